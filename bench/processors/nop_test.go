package processors

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// nopConfig configures the nop processor: there is nothing to configure.
type nopConfig struct{}

// nopSubject is a processor that changes nothing, built with processorhelper like the
// others. What it costs is what every one of them pays per call before doing any work:
// counting the items going in and out, which for metrics means visiting every data point.
func nopSubject() subject {
	capabilities := processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})
	return subject{
		name: "nop",
		factory: processor.NewFactory(component.MustNewType("nop"),
			func() component.Config { return &nopConfig{} },
			processor.WithTraces(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
				return processorhelper.NewTraces(ctx, set, cfg, next,
					func(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) { return td, nil }, capabilities)
			}, component.StabilityLevelDevelopment),
			processor.WithMetrics(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
				return processorhelper.NewMetrics(ctx, set, cfg, next,
					func(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) { return md, nil }, capabilities)
			}, component.StabilityLevelDevelopment),
			processor.WithLogs(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
				return processorhelper.NewLogs(ctx, set, cfg, next,
					func(_ context.Context, ld plog.Logs) (plog.Logs, error) { return ld, nil }, capabilities)
			}, component.StabilityLevelDevelopment),
		),
		config: map[string]any{},
	}
}
