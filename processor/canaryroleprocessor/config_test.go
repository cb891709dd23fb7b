package canaryroleprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		id       component.ID
		expected *Config
		errMsg   string
	}{
		{
			id: component.NewIDWithName(metadata.Type, "static"),
			expected: &Config{
				Kubernetes: configoptional.Default(KubernetesConfig{
					API: kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
				}),
				Canaries: []CanaryConfig{
					{Namespace: "test", Name: "podinfo"},
					{Namespace: "test", Name: "backend-rollout", Target: "backend"},
				},
				Stamp:    StampConfig{Weight: true, Phase: true, Revision: true},
				Override: true,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "kubernetes"),
			expected: &Config{
				Kubernetes: configoptional.Some(KubernetesConfig{
					API:        kube.APIConfig{AuthType: kube.AuthTypeKubeConfig, Context: "kind-flagger"},
					Namespaces: []string{"test", "prod"},
				}),
				MetricLabels: true,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "kubernetes_defaults"),
			expected: &Config{
				Kubernetes: configoptional.Some(KubernetesConfig{
					API: kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
				}),
				MetricLabels: true,
			},
		},
		{
			id:     component.NewIDWithName(metadata.Type, "no_source"),
			errMsg: "kubernetes, canaries: no source of canaries; set at least one",
		},
		{
			id:     component.NewIDWithName(metadata.Type, "missing_namespace"),
			errMsg: "canaries[0].namespace: must be set",
		},
		{
			id:     component.NewIDWithName(metadata.Type, "missing_name"),
			errMsg: "canaries[0].name: must be set",
		},
		{
			id:     component.NewIDWithName(metadata.Type, "duplicate_canary"),
			errMsg: "canaries[1]: test/podinfo is already listed as canaries[0]",
		},
		{
			id:     component.NewIDWithName(metadata.Type, "duplicate_target"),
			errMsg: "canaries[1].target: test/podinfo is already the target of canaries[0]",
		},
		{
			id:     component.NewIDWithName(metadata.Type, "bad_auth_type"),
			errMsg: `kubernetes: auth_type: "token" is not one of "none", "serviceAccount", "kubeConfig"`,
		},
		{
			id:     component.NewIDWithName(metadata.Type, "empty_watched_namespace"),
			errMsg: "kubernetes.namespaces[0]: must not be empty",
		},
	}

	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))

			err = confmap.Validate(cfg)
			if tt.errMsg != "" {
				require.ErrorContains(t, err, tt.errMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.expected, cfg)
		})
	}
}

func TestDefaultConfigNeedsASource(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.False(t, cfg.Kubernetes.HasValue(), "kubernetes is off until configured")
	require.True(t, cfg.MetricLabels)
	require.ErrorContains(t, cfg.Validate(), "kubernetes, canaries")
}

func TestValidateDoesNotMutate(t *testing.T) {
	cfg := &Config{Canaries: []CanaryConfig{{Namespace: "test", Name: "podinfo"}}}
	before := *cfg
	require.NoError(t, cfg.Validate())
	require.Equal(t, before, *cfg)
	require.Empty(t, cfg.Canaries[0].Target, "the default target is applied when the index is built")
}
