package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

const (
	defaultMetricsInterval = 30 * time.Second
	defaultDedupWindow     = 2 * time.Second
	defaultWebhookEndpoint = "localhost:8765"
	defaultWebhookPath     = "/events"
	// defaultMaxBodySize is far above Flagger's payloads, which are well under 4 KiB.
	defaultMaxBodySize = 64 << 10
)

// NewFactory returns the factory of the flagger receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultWebhookEndpoint
	server.MaxRequestBodySize = defaultMaxBodySize
	return &Config{
		MetricsInterval: defaultMetricsInterval,
		DedupWindow:     defaultDedupWindow,
		Kubernetes: configoptional.Default(KubernetesConfig{
			API:    kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
			Events: true,
			LeaderElection: configoptional.Default(LeaderElectionConfig{
				LeaseName:      "otelcol-flagger",
				LeaseNamespace: "flagger-system",
				LeaseDuration:  15 * time.Second,
				RenewDeadline:  10 * time.Second,
				RetryPeriod:    2 * time.Second,
			}),
		}),
		Webhook: configoptional.Default(WebhookConfig{
			ServerConfig: server,
			Path:         defaultWebhookPath,
		}),
		MetricsBuilderConfig: metadata.DefaultMetricsBuilderConfig(),
	}
}

func createLogs(
	_ context.Context,
	set receiver.Settings,
	cfg component.Config,
	next consumer.Logs,
) (receiver.Logs, error) {
	r, err := shared.getOrCreate(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.setLogs(next)
	return r, nil
}

func createMetrics(
	_ context.Context,
	set receiver.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (receiver.Metrics, error) {
	r, err := shared.getOrCreate(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.setMetrics(next)
	return r, nil
}
