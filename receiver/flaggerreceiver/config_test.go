package flaggerreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name    string
		check   func(t *testing.T, cfg *Config)
		wantErr string
	}{
		{
			name: "kubernetes",
			check: func(t *testing.T, cfg *Config) {
				require.Equal(t, "prod-eu-1", cfg.ClusterName)
				require.Equal(t, 10*time.Second, cfg.MetricsInterval)
				require.Equal(t, component.MustNewID("file_storage"), *cfg.Storage)
				require.False(t, cfg.Webhook.HasValue())
				k := cfg.Kubernetes.Get()
				require.Equal(t, kube.APIConfig{AuthType: kube.AuthTypeKubeConfig, Context: "prod"}, k.API)
				require.Equal(t, []string{"test", "shop"}, k.Namespaces)
				require.True(t, k.Events)
				le := k.LeaderElection.Get()
				require.Equal(t, "otelcol-flagger", le.LeaseName)
				require.Equal(t, 15*time.Second, le.LeaseDuration, "unset durations keep their defaults")
			},
		},
		{
			name: "webhook",
			check: func(t *testing.T, cfg *Config) {
				require.False(t, cfg.Kubernetes.HasValue())
				w := cfg.Webhook.Get()
				require.Equal(t, "0.0.0.0:9443", w.ServerConfig.NetAddr.Endpoint)
				require.Equal(t, "/flagger", w.Path)
				require.EqualValues(t, 4096, w.ServerConfig.MaxRequestBodySize)
			},
		},
		{
			name: "both-defaults",
			check: func(t *testing.T, cfg *Config) {
				k := cfg.Kubernetes.Get()
				require.Equal(t, kube.AuthTypeServiceAccount, k.API.AuthType)
				require.True(t, k.Events)
				require.False(t, k.LeaderElection.HasValue(), "leader election is off unless configured")
				w := cfg.Webhook.Get()
				require.Equal(t, "localhost:8765", w.ServerConfig.NetAddr.Endpoint)
				require.Equal(t, "/events", w.Path)
			},
		},
		{name: "no-source", wantErr: "at least one of kubernetes or webhook must be configured"},
		{name: "bad-auth", wantErr: `kubernetes: auth_type: "token" is not one of`},
		{name: "bad-context", wantErr: "kubernetes: context: only used with auth_type kubeConfig"},
		{name: "bad-interval", wantErr: "metrics_interval: must be positive"},
		{name: "bad-path", wantErr: `webhook: path: must start with /, got "events"`},
		{name: "bad-lease", wantErr: "kubernetes: leader_election: lease_name: must not be empty"},
		{name: "empty-namespace", wantErr: "kubernetes: namespaces[0]: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg.(*Config))
		})
	}
}
