// Package e2e runs otelcol-flagger against a real control plane and Flagger
// on loopback. The tests run only with E2E=1; build the tools first with
// build-tools.sh.
package e2e

import (
	"os"
	"testing"
)

// requireE2E skips the test unless E2E=1.
func requireE2E(t *testing.T) {
	t.Helper()

	if os.Getenv("E2E") != "1" {
		t.Skip("set E2E=1 to run the cluster tests (build the tools with build-tools.sh first)")
	}
}
