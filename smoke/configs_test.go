package smoke

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "regenerate configs/kubernetes/configmap.yaml from configs/otel-collector.yaml")

// TestValidateConfigs runs `otelcol-flagger validate` on every configuration in configs/.
func TestValidateConfigs(t *testing.T) {
	bin := otelcolBin(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "configs", "*.yaml"))
	require.NoError(t, err)
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	require.Subset(t, names, []string{"local.yaml", "otel-collector.yaml"})

	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := runCommand(t, bin, "validate", "--config="+f)
			require.NoError(t, err, "validate %s:\n%s", f, out)
		})
	}
}

// TestComponents checks that the distribution holds exactly the components it documents.
func TestComponents(t *testing.T) {
	bin := otelcolBin(t)
	out, err := runCommand(t, bin, "components")
	require.NoError(t, err, out)

	var listed map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &listed), out)
	names := func(kind string) []string {
		var got []string
		list, _ := listed[kind].([]any)
		for _, item := range list {
			m, ok := item.(map[string]any)
			require.True(t, ok, "%s entry is not a map: %v", kind, item)
			name, _ := m["name"].(string)
			got = append(got, name)
		}
		sort.Strings(got)
		return got
	}

	assert.Equal(t, []string{"flagger", "jaeger", "otlp", "prometheus"}, names("receivers"))
	// k8s_attributes, otlp_grpc and otlp_http are the current names of k8sattributes, otlp
	// and otlphttp, which still accept their old names with a deprecation warning.
	assert.Equal(t, []string{"batch", "canaryrole", "k8s_attributes", "memory_limiter", "resource", "transform"},
		names("processors"))
	assert.Equal(t, []string{"debug", "file", "otlp_grpc", "otlp_http", "prometheus"}, names("exporters"))
	assert.Equal(t, []string{"bearertokenauth", "file_storage", "health_check", "pprof", "zpages"},
		names("extensions"))
	assert.Empty(t, names("connectors"))
}

// TestInvalidConfigFailsAtStart checks that a configuration mistake stops the collector
// at start with an error that names the key at fault.
func TestInvalidConfigFailsAtStart(t *testing.T) {
	bin := otelcolBin(t)
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{
			name: "flagger without a source",
			config: `
receivers:
  flagger:
    metrics_interval: 10s
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [flagger]
      exporters: [debug]
`,
			want: []string{"receivers::flagger", "at least one of kubernetes or webhook"},
		},
		{
			name: "flagger webhook path without slash",
			config: `
receivers:
  flagger:
    webhook:
      endpoint: localhost:0
      path: events
exporters:
  debug:
service:
  pipelines:
    logs:
      receivers: [flagger]
      exporters: [debug]
`,
			want: []string{"receivers::flagger", "webhook: path: must start with /"},
		},
		{
			name: "canaryrole static canary without namespace",
			config: `
receivers:
  otlp:
    protocols:
      http:
        endpoint: localhost:0
processors:
  canaryrole:
    canaries:
      - name: podinfo
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [canaryrole]
      exporters: [debug]
`,
			want: []string{"processors::canaryrole", "canaries[0].namespace: must be set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.config), 0o600))
			out, err := runCommand(t, bin, "--config="+path)
			require.Error(t, err, "the collector started on an invalid configuration:\n%s", out)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

// configMapHeader precedes the embedded configuration in configs/kubernetes/configmap.yaml.
const configMapHeader = `# Generated from configs/otel-collector.yaml; do not edit by hand. The smoke tests check that
# the two agree; regenerate with: cd smoke && go test -run TestConfigMap -update .
apiVersion: v1
kind: ConfigMap
metadata:
  name: otel-collector-config
  namespace: flagger-system
  labels:
    app.kubernetes.io/name: otel-collector
    app.kubernetes.io/part-of: otelcol-flagger
data:
  config.yaml: |
`

// TestConfigMapMatchesConfig checks that the ConfigMap the manifests deploy carries
// configs/otel-collector.yaml byte for byte. kustomize refuses files outside its root,
// so the ConfigMap is a checked-in copy rather than generated from ../otel-collector.yaml.
func TestConfigMapMatchesConfig(t *testing.T) {
	config, err := os.ReadFile(filepath.Join(repoRoot, "configs", "otel-collector.yaml"))
	require.NoError(t, err)
	cmPath := filepath.Join(repoRoot, "configs", "kubernetes", "configmap.yaml")

	if *update {
		var b strings.Builder
		b.WriteString(configMapHeader)
		for _, line := range strings.Split(strings.TrimRight(string(config), "\n"), "\n") {
			if line != "" {
				b.WriteString("    " + line)
			}
			b.WriteString("\n")
		}
		require.NoError(t, os.WriteFile(cmPath, []byte(b.String()), 0o644))
	}

	raw, err := os.ReadFile(cmPath)
	require.NoError(t, err)
	var cm struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &cm))
	assert.Equal(t, "ConfigMap", cm.Kind)
	assert.Equal(t, "otel-collector-config", cm.Metadata.Name)
	assert.Equal(t, "flagger-system", cm.Metadata.Namespace)
	require.Equal(t, string(config), cm.Data["config.yaml"],
		"configs/kubernetes/configmap.yaml is out of date; run: cd smoke && go test -run TestConfigMap -update .")
}

// TestKustomizationListsEveryManifest checks that kubectl apply -k and kubectl apply -f
// deploy the same objects: the Kustomization lists every manifest in its directory.
func TestKustomizationListsEveryManifest(t *testing.T) {
	dir := filepath.Join(repoRoot, "configs", "kubernetes")
	raw, err := os.ReadFile(filepath.Join(dir, "Kustomization"))
	require.NoError(t, err)
	var k struct {
		Resources []string `yaml:"resources"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &k))

	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	var manifests []string
	for _, f := range files {
		manifests = append(manifests, filepath.Base(f))
	}
	listed := append([]string(nil), k.Resources...)
	sort.Strings(listed)
	assert.Equal(t, manifests, listed)
}
