// Package collector runs the otelcol-flagger binary for the end-to-end tests
// with a generated configuration whose pipelines end in file exporters, and
// reads what it exported back as pdata.
package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/ports"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/proc"
)

// Pipeline lists the components of one pipeline before its file exporter.
type Pipeline struct {
	// Receivers are receiver IDs; at least one.
	Receivers []string

	// Processors are processor IDs, in order.
	Processors []string
}

// Options configures Start.
type Options struct {
	// Bin is the collector binary; empty means BinPath().
	Bin string

	// Receivers maps receiver IDs to their configuration.
	Receivers map[string]any

	// Processors maps processor IDs to their configuration.
	Processors map[string]any

	// Logs, Metrics and Traces are the pipelines to run; nil means none.
	Logs    *Pipeline
	Metrics *Pipeline
	Traces  *Pipeline

	// Pipelines are more pipelines by ID, e.g. "logs/flagger", each with
	// its own file exporter; read them with OutputPath.
	Pipelines map[string]*Pipeline

	// Extensions maps extension IDs to their configuration; each is
	// enabled next to the health check.
	Extensions map[string]any

	// Env is added to the test's environment, e.g. KUBECONFIG=...
	Env []string

	// StartTimeout bounds how long the collector may take to report
	// healthy; zero means one minute.
	StartTimeout time.Duration
}

// Collector is a running collector.
type Collector struct {
	// Dir holds the configuration, the log and the exported files.
	Dir string

	// ConfigPath is the generated configuration.
	ConfigPath string

	// LogsPath, MetricsPath and TracesPath are the file exporters'
	// outputs: one JSON-encoded OTLP request per line.
	LogsPath    string
	MetricsPath string
	TracesPath  string

	// TelemetryURL serves the collector's own metrics in Prometheus
	// format.
	TelemetryURL string

	// outputs maps each pipeline ID to its file exporter's output.
	outputs map[string]string

	proc *proc.Process
}

// BinPath returns $OTELCOL_BIN, or bin/otelcol-flagger at the repository
// root.
func BinPath() string {
	if bin := os.Getenv("OTELCOL_BIN"); bin != "" {
		return bin
	}

	_, file, _, _ := runtime.Caller(0)

	return filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "otelcol-flagger")
}

// RequireBin skips the test when the collector binary does not exist.
func RequireBin(t testing.TB) string {
	t.Helper()

	bin := BinPath()
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("collector binary %s not built (set OTELCOL_BIN or build bin/otelcol-flagger): %v", bin, err)
	}

	return bin
}

// Start writes the configuration, starts the collector and waits until its
// health check answers. The collector is stopped when the test ends; if the
// test failed, the tail of its log is written to the test log.
func Start(t testing.TB, opts Options) *Collector {
	t.Helper()

	bin := opts.Bin
	if bin == "" {
		bin = BinPath()
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}

	dir := workDir(t)
	c := &Collector{
		Dir:         dir,
		ConfigPath:  filepath.Join(dir, "config.json"),
		LogsPath:    filepath.Join(dir, "logs.jsonl"),
		MetricsPath: filepath.Join(dir, "metrics.jsonl"),
		TracesPath:  filepath.Join(dir, "traces.jsonl"),
		outputs:     map[string]string{},
	}

	healthPort, err := FreePort()
	require.NoError(t, err)
	telemetryPort, err := FreePort()
	require.NoError(t, err)
	c.TelemetryURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)

	cfg := c.config(opts, healthPort, telemetryPort)
	data, err := json.MarshalIndent(cfg, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(c.ConfigPath, data, 0o600))

	c.proc = &proc.Process{
		Name:    "otelcol-flagger",
		Bin:     bin,
		Args:    []string{"--config=" + c.ConfigPath},
		Env:     append(os.Environ(), opts.Env...),
		LogPath: filepath.Join(dir, "otelcol-flagger.log"),
	}
	require.NoError(t, c.proc.Start())
	t.Cleanup(func() {
		c.proc.Stop(15 * time.Second)
		if t.Failed() {
			t.Logf("---- last lines of %s ----\n%s", c.proc.LogPath, c.proc.Tail(60))
		}
	})

	health := fmt.Sprintf("http://127.0.0.1:%d/", healthPort)
	require.NoError(t, waitHealthy(t.Context(), c.proc, health, timeout))

	return c
}

// Stop stops the collector, which flushes its exporters; the files can be
// read afterwards.
func (c *Collector) Stop() {
	c.proc.Stop(15 * time.Second)
}

// LogPath returns the collector's own log.
func (c *Collector) LogPath() string {
	return c.proc.LogPath
}

// OutputPath returns the file a pipeline exports to: one JSON-encoded OTLP
// request per line.
func (c *Collector) OutputPath(pipelineID string) string {
	path, ok := c.outputs[pipelineID]
	if !ok {
		panic("collector has no pipeline " + pipelineID)
	}

	return path
}

func (c *Collector) config(opts Options, healthPort, telemetryPort int) map[string]any {
	pipelines := map[string]*Pipeline{}
	for id, p := range opts.Pipelines {
		pipelines[id] = p
	}
	for id, p := range map[string]*Pipeline{"logs": opts.Logs, "metrics": opts.Metrics, "traces": opts.Traces} {
		if p != nil {
			pipelines[id] = p
		}
	}

	exporters := map[string]any{}
	service := map[string]any{}
	for id, p := range pipelines {
		name := strings.ReplaceAll(id, "/", "_")
		path := filepath.Join(c.Dir, name+".jsonl")
		c.outputs[id] = path

		exporter := "file/" + name
		exporters[exporter] = map[string]any{
			"path":           path,
			"format":         "json",
			"flush_interval": "100ms",
		}

		pipeline := map[string]any{
			"receivers": p.Receivers,
			"exporters": []string{exporter},
		}
		if len(p.Processors) > 0 {
			pipeline["processors"] = p.Processors
		}
		service[id] = pipeline
	}

	extensions := map[string]any{
		"health_check": map[string]any{
			"endpoint": "127.0.0.1:" + strconv.Itoa(healthPort),
		},
	}
	extensionIDs := []string{"health_check"}
	for id, cfg := range opts.Extensions {
		extensions[id] = cfg
		extensionIDs = append(extensionIDs, id)
	}
	sort.Strings(extensionIDs)

	cfg := map[string]any{
		"receivers":  opts.Receivers,
		"exporters":  exporters,
		"extensions": extensions,
		"service": map[string]any{
			"extensions": extensionIDs,
			"pipelines":  service,
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "debug"},
				"metrics": map[string]any{
					"level": "detailed",
					"readers": []any{map[string]any{
						"pull": map[string]any{
							"exporter": map[string]any{
								"prometheus": map[string]any{
									"host": "127.0.0.1",
									"port": telemetryPort,
								},
							},
						},
					}},
				},
			},
		},
	}
	if len(opts.Processors) > 0 {
		cfg["processors"] = opts.Processors
	}

	return cfg
}

func waitHealthy(ctx context.Context, p *proc.Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()

	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}

		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check answered %s", resp.Status)
		}

		if exited, exitErr := p.Exited(); exited {
			return fmt.Errorf("collector exited (%v); log tail:\n%s", exitErr, p.Tail(30))
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("collector not healthy after %s: %w", timeout, err)
		case <-ticker.C:
		}
	}
}

// workDir returns a directory for one collector run, kept under
// $E2E_KEEP_DIR when it is set.
func workDir(t testing.TB) string {
	base := os.Getenv("E2E_KEEP_DIR")
	if base == "" {
		return t.TempDir()
	}

	require.NoError(t, os.MkdirAll(base, 0o755))
	dir, err := os.MkdirTemp(base, "collector-")
	require.NoError(t, err)

	return dir
}

// FreePort returns a loopback TCP port that was free a moment ago and that
// no other caller in this process got.
func FreePort() (int, error) {
	p, err := ports.Free(1)
	if err != nil {
		return 0, err
	}

	return p[0], nil
}
