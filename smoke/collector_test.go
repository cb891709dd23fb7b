package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// repoRoot is the repository, seen from this module.
const repoRoot = ".."

const (
	// waitFor bounds every wait for the collector; the poll interval keeps it responsive.
	waitFor  = 60 * time.Second
	pollTick = 100 * time.Millisecond
	// stopGrace is how long the collector gets to shut down before it is killed.
	stopGrace = 15 * time.Second
	// commandTimeout bounds one-shot commands such as validate and components.
	commandTimeout = 60 * time.Second
)

// httpClient keeps no idle connections, so no goroutine outlives a request.
var httpClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// otelcolBin returns the binary under test, or skips the test when OTELCOL_BIN is unset.
func otelcolBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OTELCOL_BIN")
	if bin == "" {
		t.Skip("OTELCOL_BIN is not set; build with make build and set it to bin/otelcol-flagger")
	}
	abs, err := filepath.Abs(bin)
	require.NoError(t, err)
	info, err := os.Stat(abs)
	require.NoError(t, err, "OTELCOL_BIN")
	require.False(t, info.IsDir(), "OTELCOL_BIN is a directory: %s", abs)
	return abs
}

// collector is one running otelcol-flagger process.
type collector struct {
	cmd     *exec.Cmd
	logPath string

	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// startCollector runs the binary on a configuration file and stops it when the test ends.
func startCollector(t *testing.T, bin, configPath string) *collector {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "collector.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)

	cmd := exec.Command(bin, "--config="+configPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	require.NoError(t, cmd.Start())

	c := &collector{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.shutdown(t)
		if t.Failed() {
			t.Logf("---- collector output (%s) ----\n%s", logPath, c.output())
		}
	})
	return c
}

// shutdown stops the collector: SIGTERM first, SIGKILL after stopGrace.
func (c *collector) shutdown(t *testing.T) {
	c.stop.Do(func() {
		if c.exited() {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(stopGrace):
			t.Errorf("collector did not stop within %s of SIGTERM; killing it", stopGrace)
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

func (c *collector) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *collector) output() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	return string(b)
}

// eventually waits for cond like require.Eventually, but gives up as soon as the
// collector exits, and says so.
func (c *collector) eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, func() bool { return c.exited() || cond() }, waitFor, pollTick, append([]any{msg}, args...)...)
	if c.exited() {
		t.Fatalf("collector exited (%v) while waiting for %s", c.waitErr, fmt.Sprintf(msg, args...))
	}
}

// runCommand runs the binary to completion and returns its combined output.
func runCommand(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s %s did not finish within %s:\n%s", bin, strings.Join(args, " "), commandTimeout, out.String())
	}
	return out.String(), err
}

// freePort returns a loopback port that is free for both TCP and UDP at the time of the
// call, so it suits any receiver.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", tl.Addr().String())
		_ = tl.Close()
		if err != nil {
			continue
		}
		_ = ul.Close()
		return port
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return 0
}
