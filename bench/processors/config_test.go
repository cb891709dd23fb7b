package processors

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"
)

// The attributes every processor under comparison writes.
const (
	attrRole = "flagger.canary.role"
	attrName = "flagger.canary.name"
)

// subject is one processor configuration under comparison.
type subject struct {
	name    string
	factory processor.Factory
	config  map[string]any
}

// resourceSubject upserts one constant attribute: the least a processor can do per
// resource, and the floor canaryrole is held against.
func resourceSubject() subject {
	return subject{
		name:    "resource",
		factory: resourceprocessor.NewFactory(),
		config: map[string]any{
			"attributes": []any{map[string]any{
				"key": attrRole, "value": "primary", "action": "upsert",
			}},
		},
	}
}

// canaryroleSubject knows n canaries by hand. Data point labels are off so that, like the
// others, it only writes resource attributes.
func canaryroleSubject(n int, metricLabels bool) subject {
	canaries := make([]any, n)
	for c := range canaries {
		namespace, name := canary(c)
		canaries[c] = map[string]any{"namespace": namespace, "name": name}
	}
	return subject{
		name:    "canaryrole",
		factory: canaryroleprocessor.NewFactory(),
		config:  map[string]any{"canaries": canaries, "metric_labels": metricLabels},
	}
}

// transformStatements are the OTTL statements that stamp what canaryrole stamps for n
// canaries: role and name, for the primary and for the canary, four per canary.
func transformStatements(n int) []any {
	const where = ` where resource.attributes["k8s.namespace.name"] == %q` +
		` and resource.attributes["k8s.deployment.name"] == %q`
	statements := make([]any, 0, 4*n)
	for c := 0; c < n; c++ {
		namespace, name := canary(c)
		for _, side := range []struct{ role, workload string }{
			{"primary", name + "-primary"},
			{"canary", name},
		} {
			statements = append(statements,
				fmt.Sprintf(`set(resource.attributes[%q], %q)`+where, attrRole, side.role, namespace, side.workload),
				fmt.Sprintf(`set(resource.attributes[%q], %q)`+where, attrName, name, namespace, side.workload))
		}
	}
	return statements
}

// transformSubject holds the statements of one signal only: the configuration is checked
// by parsing every statement, so statements for the other signals would only cost time.
func transformSubject(n int, signal string) subject {
	key := map[string]string{
		"traces": "trace_statements", "metrics": "metric_statements", "logs": "log_statements",
	}[signal]
	return subject{
		name:    "transform",
		factory: transformprocessor.NewFactory(),
		config:  map[string]any{"error_mode": "ignore", key: transformStatements(n)},
	}
}

// createConfig unmarshals and validates the subject's configuration as the collector would.
func (s subject) createConfig(tb testing.TB) any {
	tb.Helper()
	cfg := s.factory.CreateDefaultConfig()
	require.NoError(tb, confmap.NewFromStringMap(s.config).Unmarshal(cfg))
	require.NoError(tb, confmap.Validate(cfg))
	return cfg
}

// created numbers the processors, so that each has an ID of its own.
var created atomic.Int64

// settings gives each processor its own ID: canaryrole processors that share an ID share
// their canaries (the first one's), as the pipelines of one component do in a collector.
func (s subject) settings() processor.Settings {
	set := processortest.NewNopSettings(s.factory.Type())
	set.ID = component.MustNewIDWithName(s.factory.Type().String(), fmt.Sprint(created.Add(1)))
	return set
}

// start starts a processor and shuts it down when the test ends.
func start(tb testing.TB, p component.Component) {
	tb.Helper()
	require.NoError(tb, p.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, p.Shutdown(context.Background())) })
}

// kept holds the processors the benchmarks start, by benchmark name, so that the runs
// -count asks for reuse them. Building transform's 4,000 statements for 1,000 canaries
// takes seconds; doing it on every run would dominate make bench. They are never shut
// down: the benchmark binary exits after the last run.
var kept = map[string]component.Component{}

// keep returns the processor started for this benchmark by an earlier run, or starts the
// one create returns.
func keep[P component.Component](b *testing.B, create func(testing.TB) P) P {
	b.Helper()
	if p, ok := kept[b.Name()]; ok {
		return p.(P)
	}
	p := create(b)
	require.NoError(b, p.Start(context.Background(), componenttest.NewNopHost()))
	kept[b.Name()] = p
	// Building the processor leaves garbage behind (much of it for transform's parser):
	// collect it now rather than while the first run is timed.
	runtime.GC()
	return p
}

func (s subject) createTraces(tb testing.TB) processor.Traces {
	tb.Helper()
	p, err := s.factory.CreateTraces(context.Background(), s.settings(), s.createConfig(tb), consumertest.NewNop())
	require.NoError(tb, err)
	return p
}

func (s subject) createMetrics(tb testing.TB) processor.Metrics {
	tb.Helper()
	p, err := s.factory.CreateMetrics(context.Background(), s.settings(), s.createConfig(tb), consumertest.NewNop())
	require.NoError(tb, err)
	return p
}

func (s subject) createLogs(tb testing.TB) processor.Logs {
	tb.Helper()
	p, err := s.factory.CreateLogs(context.Background(), s.settings(), s.createConfig(tb), consumertest.NewNop())
	require.NoError(tb, err)
	return p
}

// traces, metrics and logs return started processors that stop when the test ends.
func (s subject) traces(tb testing.TB) processor.Traces {
	p := s.createTraces(tb)
	start(tb, p)
	return p
}

func (s subject) metrics(tb testing.TB) processor.Metrics {
	p := s.createMetrics(tb)
	start(tb, p)
	return p
}

func (s subject) logs(tb testing.TB) processor.Logs {
	p := s.createLogs(tb)
	start(tb, p)
	return p
}
