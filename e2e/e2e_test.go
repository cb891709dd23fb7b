// Package e2e runs otelcol-flagger against a real control plane and Flagger
// on loopback. The tests run only with E2E=1; build the tools first with
// build-tools.sh.
package e2e

import (
	"flag"
	"os"
	"testing"
)

// parallelScenarios is how many scenarios may run at once unless -parallel
// says otherwise. They spend their time waiting for Flagger's analysis
// intervals, not on the CPU, so the default of GOMAXPROCS would make the
// tier several times longer than it needs to be.
const parallelScenarios = "16"

func TestMain(m *testing.M) {
	flag.Parse()

	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", parallelScenarios)
	}

	os.Exit(m.Run())
}

// requireE2E skips the test unless E2E=1.
func requireE2E(t *testing.T) {
	t.Helper()

	if os.Getenv("E2E") != "1" {
		t.Skip("set E2E=1 to run the cluster tests (build the tools with build-tools.sh first)")
	}
}
