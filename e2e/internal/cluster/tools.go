package cluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files that build-tools.sh leaves in the tools directory.
const (
	etcdBin              = "etcd"
	apiServerBin         = "kube-apiserver"
	controllerManagerBin = "kube-controller-manager"
	kwokBin              = "kwok"
	flaggerBin           = "flagger"
	kwokStagesFile       = "kwok-stages.yaml"
	flaggerCRDFile       = "flagger-crd.yaml"
)

// ToolsDir returns the directory build-tools.sh writes to: $E2E_TOOLS_DIR,
// or $HOME/.cache/otelcol-flagger-e2e/bin.
func ToolsDir() string {
	if dir := os.Getenv("E2E_TOOLS_DIR"); dir != "" {
		return dir
	}

	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}

	return filepath.Join(home, ".cache", "otelcol-flagger-e2e", "bin")
}

// checkTools reports the first file build-tools.sh should have produced but
// did not.
func checkTools(dir string) error {
	for _, name := range []string{
		etcdBin, apiServerBin, controllerManagerBin, kwokBin, flaggerBin,
		kwokStagesFile, flaggerCRDFile,
	} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("missing %s in %s (run e2e/build-tools.sh): %w", name, dir, err)
		}
	}

	return nil
}

// TelemetrygenPath returns the telemetrygen binary build-tools.sh builds
// into ToolsDir(), to send application telemetry to the collector.
func TelemetrygenPath() string {
	return filepath.Join(ToolsDir(), "telemetrygen")
}
