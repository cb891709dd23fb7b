package canaryroleprocessor

import (
	"context"
	"fmt"
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

// Each benchmark has two cases: "fresh" stamps a new copy of the batch every time (the
// copy is not timed), "stamped" runs over a batch that already carries the right values,
// which is the steady state of a batch seen twice and must not allocate.

func BenchmarkTraces(b *testing.B) {
	p, err := NewFactory().CreateTraces(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	input := newBenchTraces()

	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			td := ptrace.NewTraces()
			input.CopyTo(td)
			b.StartTimer()
			_ = p.ConsumeTraces(context.Background(), td)
		}
	})
	b.Run("stamped", func(b *testing.B) {
		td := ptrace.NewTraces()
		input.CopyTo(td)
		require.NoError(b, p.ConsumeTraces(context.Background(), td))
		b.ReportAllocs()
		for b.Loop() {
			_ = p.ConsumeTraces(context.Background(), td)
		}
	})
}

func BenchmarkMetrics(b *testing.B) {
	p, err := NewFactory().CreateMetrics(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	input := newBenchMetrics()

	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			md := pmetric.NewMetrics()
			input.CopyTo(md)
			b.StartTimer()
			_ = p.ConsumeMetrics(context.Background(), md)
		}
	})
	b.Run("stamped", func(b *testing.B) {
		md := pmetric.NewMetrics()
		input.CopyTo(md)
		require.NoError(b, p.ConsumeMetrics(context.Background(), md))
		b.ReportAllocs()
		for b.Loop() {
			_ = p.ConsumeMetrics(context.Background(), md)
		}
	})
}

func BenchmarkLogs(b *testing.B) {
	p, err := NewFactory().CreateLogs(context.Background(),
		processortest.NewNopSettings(metadata.Type), benchConfig(), consumertest.NewNop())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	input := newBenchLogs()

	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			ld := plog.NewLogs()
			input.CopyTo(ld)
			b.StartTimer()
			_ = p.ConsumeLogs(context.Background(), ld)
		}
	})
	b.Run("stamped", func(b *testing.B) {
		ld := plog.NewLogs()
		input.CopyTo(ld)
		require.NoError(b, p.ConsumeLogs(context.Background(), ld))
		b.ReportAllocs()
		for b.Loop() {
			_ = p.ConsumeLogs(context.Background(), ld)
		}
	})
}
