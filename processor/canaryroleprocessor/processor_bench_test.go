package canaryroleprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

// The benchmark batches: resources x scopes x items, shaped like the output of k8sattributes
// in front of a rollout. Of every ten resources, one belongs to a workload no canary rolls
// out; the others alternate between the primary and the canary.
const (
	benchResources = 100
	benchScopes    = 10
	benchItems     = 100
)

// benchCanaries are the canaries the benchmark configures: one per namespace.
var benchCanaries = []CanaryConfig{
	{Namespace: "shop", Name: "checkout"},
	{Namespace: "shop", Name: "cart"},
	{Namespace: "payments", Name: "ledger"},
}

// fillBenchResource writes the attributes k8sattributes and an SDK put on resource i.
func fillBenchResource(attrs pcommon.Map, i int) {
	c := benchCanaries[i%len(benchCanaries)]
	workload := c.Name
	switch {
	case i%10 == 9:
		workload = "frontend"
	case i%2 == 0:
		workload += "-primary"
	}
	attrs.PutStr("service.name", c.Name)
	attrs.PutStr("service.version", "6.7.1")
	attrs.PutStr("telemetry.sdk.language", "go")
	attrs.PutStr("telemetry.sdk.name", "opentelemetry")
	attrs.PutStr("telemetry.sdk.version", "1.46.0")
	attrs.PutStr("host.name", fmt.Sprintf("node-%d", i%7))
	attrs.PutStr("k8s.namespace.name", c.Namespace)
	attrs.PutStr("k8s.node.name", fmt.Sprintf("node-%d", i%7))
	attrs.PutStr("k8s.pod.uid", fmt.Sprintf("6f1c4a9e-0c55-4c1b-9d2e-%012d", i))
	attrs.PutStr("k8s.pod.name", fmt.Sprintf("%s-7d9f8c6b5-x%04d", workload, i))
	attrs.PutStr("k8s.replicaset.name", workload+"-7d9f8c6b5")
	attrs.PutStr("k8s.deployment.name", workload)
	attrs.PutStr("k8s.pod.label.app", workload)
}

func newBenchTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for i := 0; i < benchResources; i++ {
		rs := td.ResourceSpans().AppendEmpty()
		fillBenchResource(rs.Resource().Attributes(), i)
		for j := 0; j < benchScopes; j++ {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < benchItems; k++ {
				span := ss.Spans().AppendEmpty()
				span.SetName("GET /api/items")
				span.SetTraceID(pcommon.TraceID{byte(i), byte(j), byte(k), 1})
				span.SetSpanID(pcommon.SpanID{byte(i), byte(j), byte(k), 2})
				span.Attributes().PutStr("http.request.method", "GET")
				span.Attributes().PutInt("http.response.status_code", 200)
			}
		}
	}
	return td
}

func newBenchMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := 0; i < benchResources; i++ {
		rm := md.ResourceMetrics().AppendEmpty()
		fillBenchResource(rm.Resource().Attributes(), i)
		for j := 0; j < benchScopes; j++ {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < benchItems; k++ {
				m := sm.Metrics().AppendEmpty()
				m.SetName(fmt.Sprintf("app.metric.%d", k))
				dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
				dp.Attributes().PutStr("http.route", "/api/items")
				dp.SetDoubleValue(float64(k))
			}
		}
	}
	return md
}

func newBenchLogs() plog.Logs {
	ld := plog.NewLogs()
	for i := 0; i < benchResources; i++ {
		rl := ld.ResourceLogs().AppendEmpty()
		fillBenchResource(rl.Resource().Attributes(), i)
		for j := 0; j < benchScopes; j++ {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < benchItems; k++ {
				lr := sl.LogRecords().AppendEmpty()
				lr.SetSeverityText("INFO")
				lr.Body().SetStr("request served")
				lr.Attributes().PutStr("http.route", "/api/items")
			}
		}
	}
	return ld
}

func benchConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Canaries = benchCanaries
	return cfg
}

// unstamp removes what the processor stamped, so the next run writes it again.
func unstamp(attrs pcommon.Map) {
	attrs.RemoveIf(func(k string, _ pcommon.Value) bool {
		return strings.HasPrefix(k, "flagger.canary.")
	})
}

func unstampTraces(td ptrace.Traces) {
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		unstamp(td.ResourceSpans().At(i).Resource().Attributes())
	}
}

func unstampLogs(ld plog.Logs) {
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		unstamp(ld.ResourceLogs().At(i).Resource().Attributes())
	}
}

func unstampMetrics(md pmetric.Metrics) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		unstamp(rm.Resource().Attributes())
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				dps := ms.At(k).Gauge().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					unstamp(dps.At(l).Attributes())
				}
			}
		}
	}
}

// benchSignal runs the two cases of one signal:
//   - "fresh" writes every attribute: what it stamped is removed, untimed, before each run
//     (attribute slices keep their capacity, so growing them is not measured);
//   - "stamped" runs over a batch that already carries the right values, the steady state
//     when the same batch is processed again, which must not allocate in the processor.
func benchSignal(b *testing.B, consume func() error, reset func()) {
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			reset()
			b.StartTimer()
			_ = consume()
		}
	})
	b.Run("stamped", func(b *testing.B) {
		require.NoError(b, consume())
		b.ReportAllocs()
		for b.Loop() {
			_ = consume()
		}
	})
}

func BenchmarkTraces(b *testing.B) {
	p, err := NewFactory().CreateTraces(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	td := newBenchTraces()
	benchSignal(b,
		func() error { return p.ConsumeTraces(context.Background(), td) },
		func() { unstampTraces(td) })
}

func BenchmarkMetrics(b *testing.B) {
	p, err := NewFactory().CreateMetrics(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	md := newBenchMetrics()
	benchSignal(b,
		func() error { return p.ConsumeMetrics(context.Background(), md) },
		func() { unstampMetrics(md) })
}

func BenchmarkLogs(b *testing.B) {
	p, err := NewFactory().CreateLogs(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	ld := newBenchLogs()
	benchSignal(b,
		func() error { return p.ConsumeLogs(context.Background(), ld) },
		func() { unstampLogs(ld) })
}
