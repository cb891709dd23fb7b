// Package proc runs the child processes of the end-to-end tests, each in its
// own process group with its output in a log file.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is one child process whose output goes to a log file.
type Process struct {
	// Name identifies the process in messages.
	Name string

	// Bin and Args are the command line.
	Bin  string
	Args []string

	// Env, if not nil, is the environment; nil means the test's own.
	Env []string

	// LogPath receives stdout and stderr, appended.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// stopped is set once Stop ran for the current start.
	stopped bool
}

// Start runs the process in its own process group, appending its output to
// the log file so that a restarted process keeps one log.
func (p *Process) Start() error {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", p.Name, err)
	}

	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339), p.Bin, strings.Join(p.Args, " "))

	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// The child dies with the test binary even if cleanup never runs.
		Pdeathsig: syscall.SIGKILL,
	}

	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}

	p.cmd = cmd
	p.done = make(chan struct{})
	p.err = nil
	p.stopped = false

	go func(done chan struct{}) {
		err := cmd.Wait()
		logFile.Close()
		p.err = err
		close(done)
	}(p.done)

	return nil
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	if p.done == nil {
		return true, errors.New("not started")
	}

	select {
	case <-p.done:
		if p.err == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group and SIGKILL after the grace period.
func (p *Process) Stop(grace time.Duration) {
	if p.cmd == nil || p.done == nil {
		return
	}

	select {
	case <-p.done:
		// Stopped before: the group's id may belong to someone else by now.
		if p.stopped {
			return
		}
	default:
	}
	p.stopped = true

	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)

	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}

	// Children that outlived their leader still belong to the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// Tail returns the last n lines of the process log.
func (p *Process) Tail(n int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()

	lines := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if len(lines) == n {
			lines = lines[1:]
		}
		lines = append(lines, sc.Text())
	}

	return strings.Join(lines, "\n")
}
