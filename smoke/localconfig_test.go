package smoke

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The ports configs/local.yaml documents.
const (
	portOTLPGRPC      = 4317
	portOTLPHTTP      = 4318
	portJaegerGRPC    = 14250
	portJaegerThrift  = 14268
	portJaegerCompact = 6831
	portWebhook       = 8765
	portTelemetry     = 8888
	portPromExporter  = 8889
	portHealthCheck   = 13133
)

var localPorts = []int{
	portOTLPGRPC, portOTLPHTTP, portJaegerGRPC, portJaegerThrift, portJaegerCompact,
	portWebhook, portTelemetry, portPromExporter, portHealthCheck,
}

// localhostEndpoint matches an endpoint value of configs/local.yaml.
var localhostEndpoint = regexp.MustCompile(`^localhost:(\d+)$`)

// testConfig is configs/local.yaml as the smoke test runs it: every port moved to a free
// one, so that parallel runs and busy CI machines do not collide, and a file exporter per
// signal added beside the existing exporters so that the test can read what came out.
type testConfig struct {
	path  string
	ports map[int]int

	tracesFile  string
	metricsFile string
	logsFile    string
}

// addr returns the loopback address that stands for a port of configs/local.yaml.
func (c *testConfig) addr(localPort int) string {
	return "localhost:" + strconv.Itoa(c.ports[localPort])
}

func (c *testConfig) url(localPort int, path string) string {
	return "http://" + c.addr(localPort) + path
}

// writeTestConfig writes the test's copy of configs/local.yaml.
func writeTestConfig(t *testing.T) *testConfig {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "configs", "local.yaml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))

	dir := t.TempDir()
	tc := &testConfig{
		path:        filepath.Join(dir, "config.yaml"),
		ports:       map[int]int{},
		tracesFile:  filepath.Join(dir, "traces.jsonl"),
		metricsFile: filepath.Join(dir, "metrics.jsonl"),
		logsFile:    filepath.Join(dir, "logs.jsonl"),
	}
	rewritePorts(t, cfg, tc.ports)
	got := make([]int, 0, len(tc.ports))
	for p := range tc.ports {
		got = append(got, p)
	}
	sort.Ints(got)
	want := slices.Clone(localPorts)
	sort.Ints(want)
	require.Equal(t, want, got, "the ports configs/local.yaml listens on")

	// Faster than a person needs it, so that the test does not wait for defaults.
	setPath(t, cfg, "1s", "receivers", "flagger", "metrics_interval")
	scrape := path(t, cfg, "receivers", "prometheus", "config", "scrape_configs").([]any)
	require.Len(t, scrape, 1, "scrape_configs")
	scrape[0].(map[string]any)["scrape_interval"] = "1s"
	scrape[0].(map[string]any)["scrape_timeout"] = "1s"
	setPath(t, cfg, map[string]any{"timeout": "100ms"}, "processors", "batch")

	exporters := path(t, cfg, "exporters").(map[string]any)
	for id, file := range map[string]string{
		"file/traces":  tc.tracesFile,
		"file/metrics": tc.metricsFile,
		"file/logs":    tc.logsFile,
	} {
		exporters[id] = map[string]any{"path": file, "flush_interval": "100ms"}
	}
	for name, p := range path(t, cfg, "service", "pipelines").(map[string]any) {
		pipeline := p.(map[string]any)
		signal, _, _ := strings.Cut(name, "/")
		pipeline["exporters"] = append(pipeline["exporters"].([]any), "file/"+signal)
	}

	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tc.path, out, 0o600))
	return tc
}

// rewritePorts moves every localhost:<port> endpoint and every telemetry port to a free
// port, the same one wherever the original port appears.
func rewritePorts(t *testing.T, node any, ports map[int]int) {
	t.Helper()
	remap := func(p int) int {
		if _, ok := ports[p]; !ok {
			ports[p] = freePort(t)
		}
		return ports[p]
	}
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			if p, ok := v.(int); ok && k == "port" {
				n[k] = remap(p)
				continue
			}
			if s, ok := v.(string); ok {
				n[k] = rewriteEndpoint(s, remap)
				continue
			}
			rewritePorts(t, v, ports)
		}
	case []any:
		for i, v := range n {
			if s, ok := v.(string); ok {
				n[i] = rewriteEndpoint(s, remap)
				continue
			}
			rewritePorts(t, v, ports)
		}
	}
}

func rewriteEndpoint(s string, remap func(int) int) string {
	m := localhostEndpoint.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	p, err := strconv.Atoi(m[1])
	if err != nil {
		return s
	}
	return fmt.Sprintf("localhost:%d", remap(p))
}

// path returns the node at keys, failing the test when a key is missing.
func path(t *testing.T, node any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := node.(map[string]any)
		require.True(t, ok, "%s is not a map", strings.Join(keys[:i], "::"))
		node, ok = m[k]
		require.True(t, ok, "configs/local.yaml has no %s", strings.Join(keys[:i+1], "::"))
	}
	return node
}

// setPath sets the last key under the others, which must exist.
func setPath(t *testing.T, node any, value any, keys ...string) {
	t.Helper()
	parent, ok := path(t, node, keys[:len(keys)-1]...).(map[string]any)
	require.True(t, ok, "%s is not a map", strings.Join(keys[:len(keys)-1], "::"))
	parent[keys[len(keys)-1]] = value
}
