package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

// defaultSyncTimeout bounds how long Start waits for the first list of Canaries before the
// collector carries on with the static canaries.
const defaultSyncTimeout = 10 * time.Second

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the canaryrole processor.
func NewFactory() processor.Factory {
	return newFactory(newDynamicClient, defaultSyncTimeout)
}

// newFactory lets tests inject a fake Kubernetes client and a short sync timeout.
func newFactory(newClient clientFunc, syncTimeout time.Duration) processor.Factory {
	f := &factory{newClient: newClient, syncTimeout: syncTimeout}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(f.createTraces, metadata.TracesStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Kubernetes: configoptional.Default(KubernetesConfig{
			API: kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
		}),
		MetricLabels: true,
	}
}

type factory struct {
	newClient   clientFunc
	syncTimeout time.Duration
}

func (f *factory) createTraces(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Traces,
) (processor.Traces, error) {
	p, err := f.newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func (f *factory) createMetrics(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Metrics,
) (processor.Metrics, error) {
	p, err := f.newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func (f *factory) createLogs(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Logs,
) (processor.Logs, error) {
	p, err := f.newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown))
}

func (f *factory) newProcessor(set processor.Settings, cfg *Config) (*canaryRoleProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	src := sources.acquire(set.ID, func() *source {
		s := &source{
			id:          set.ID,
			static:      cfg.Canaries,
			stampOpts:   cfg.Stamp,
			k8s:         cfg.Kubernetes.Get(),
			newClient:   f.newClient,
			syncTimeout: f.syncTimeout,
			logger:      set.Logger,
			telemetry:   tb,
			learned:     map[string]*kube.Canary{},
		}
		s.rebuildLocked()
		return s
	})
	return &canaryRoleProcessor{
		source:       src,
		telemetry:    tb,
		override:     cfg.Override,
		metricLabels: cfg.MetricLabels,
	}, nil
}

func (p *canaryRoleProcessor) start(ctx context.Context, host component.Host) error {
	return p.source.start(ctx, host)
}

func (p *canaryRoleProcessor) shutdown(context.Context) error {
	p.shutdownOnce.Do(func() {
		p.source.release()
		p.telemetry.Shutdown()
	})
	return nil
}
