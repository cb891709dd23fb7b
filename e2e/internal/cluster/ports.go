package cluster

import "github.com/otelcol-flagger/otelcol-flagger/e2e/internal/ports"

// freePorts reserves n distinct loopback TCP ports for processes that bind
// by number.
func freePorts(n int) ([]int, error) {
	return ports.Free(n)
}
