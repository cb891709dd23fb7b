// Package ports hands out loopback TCP ports for the processes the
// end-to-end tests start, which bind them by number.
package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

// The ports come from below Linux's default ephemeral range (32768-60999):
// a port taken from that range and released again can become the local
// port of any outgoing connection before the process that was meant to
// bind it does.
const (
	low  = 20000
	high = 32768
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Free returns n distinct loopback TCP ports that were free a moment ago
// and that this process has not handed out before.
func Free(n int) ([]int, error) {
	mu.Lock()
	defer mu.Unlock()

	out := make([]int, 0, n)
	for attempts := 0; len(out) < n; attempts++ {
		if attempts > 1000 {
			return nil, fmt.Errorf("no free loopback port in %d-%d", low, high-1)
		}

		port := low + rand.IntN(high-low)
		if handed[port] {
			continue
		}

		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()

		handed[port] = true
		out = append(out, port)
	}

	return out, nil
}
