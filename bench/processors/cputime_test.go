//go:build unix

package processors

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time this process has used, all threads, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start. Unlike ns/op, which is wall
// time, it does not grow when other processes take the cores, and it includes what the
// garbage collector spends on other threads.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
