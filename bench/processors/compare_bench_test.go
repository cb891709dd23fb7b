package processors

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// canaryCounts are the numbers of configured canaries both canaryrole and transform are
// measured at: transform evaluates every statement on every resource, canaryrole looks the
// workload up once.
var canaryCounts = []int{1, 10, 200, 1000}

// BenchmarkBatch runs one batch of each signal through each processor.
//
// Every iteration processes the same batch again. All three processors are idempotent, so
// after the first run each finds its values already there: canaryrole then writes nothing,
// resource and transform write the same values again. This is the steady state, and the one
// where canaryrole must not allocate per resource.
func BenchmarkBatch(b *testing.B) {
	for _, signal := range []string{"traces", "metrics", "logs"} {
		b.Run("signal="+signal, func(b *testing.B) {
			run := func(name string, s subject, n int) {
				b.Run(name, func(b *testing.B) { benchSignal(b, signal, s, n) })
			}
			run("proc=nop", nopSubject(), 10)
			run("proc=resource", resourceSubject(), 10)
			for _, n := range canaryCounts {
				run(fmt.Sprintf("proc=canaryrole/canaries=%d", n), canaryroleSubject(n, false), n)
			}
			if signal == "metrics" {
				run("proc=canaryrole+labels/canaries=10", canaryroleSubject(10, true), 10)
			}
			for _, n := range canaryCounts {
				run(fmt.Sprintf("proc=transform/canaries=%d", n), transformSubject(n, signal), n)
			}
		})
	}
}

func benchSignal(b *testing.B, signal string, s subject, n int) {
	ctx := context.Background()
	var (
		consume func() error
		first   pcommon.Map
		stamped func() int
	)
	switch signal {
	case "traces":
		p, td := keep(b, s.createTraces), newTraces(n)
		consume = func() error { return p.ConsumeTraces(ctx, td) }
		first = td.ResourceSpans().At(0).Resource().Attributes()
		stamped = func() int { return countStamped(stamps(td.ResourceSpans())) }
	case "metrics":
		p, md := keep(b, s.createMetrics), newMetrics(n)
		consume = func() error { return p.ConsumeMetrics(ctx, md) }
		first = md.ResourceMetrics().At(0).Resource().Attributes()
		stamped = func() int { return countStamped(metricStamps(md)) }
	case "logs":
		p, ld := keep(b, s.createLogs), newLogs(n)
		consume = func() error { return p.ConsumeLogs(ctx, ld) }
		first = ld.ResourceLogs().At(0).Resource().Attributes()
		stamped = func() int { return countStamped(logStamps(ld)) }
	}

	// The first run stamps; it is not timed. Resource 0 is a primary in every setup; the
	// resource processor stamps every resource, the others all but the unmatched tenth.
	require.NoError(b, consume())
	if s.name != "nop" {
		role, ok := first.Get(attrRole)
		require.True(b, ok, "%s did not stamp the first resource", s.name)
		require.Equal(b, "primary", role.Str())
		want := batchResources - batchResources/10
		if s.name == "resource" {
			want = batchResources
		}
		require.Equal(b, want, stamped(), "resources %s stamped", s.name)
	}

	// Building the batch, and the batches of earlier benchmarks, leave garbage behind:
	// collect it now, not while the loop is timed.
	runtime.GC()
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		if err := consume(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(batchResources), "resources/op")
}

// BenchmarkEmptyBatch measures what one call costs whatever the batch holds, so that the
// allocations per resource can be told from those per call.
func BenchmarkEmptyBatch(b *testing.B) {
	ctx := context.Background()
	for _, s := range []subject{resourceSubject(), canaryroleSubject(10, false)} {
		b.Run("signal=traces/proc="+s.name, func(b *testing.B) {
			p, td := keep(b, s.createTraces), ptrace.NewTraces()
			b.ReportAllocs()
			for b.Loop() {
				_ = p.ConsumeTraces(ctx, td)
			}
		})
		b.Run("signal=metrics/proc="+s.name, func(b *testing.B) {
			p, md := keep(b, s.createMetrics), pmetric.NewMetrics()
			b.ReportAllocs()
			for b.Loop() {
				_ = p.ConsumeMetrics(ctx, md)
			}
		})
		b.Run("signal=logs/proc="+s.name, func(b *testing.B) {
			p, ld := keep(b, s.createLogs), plog.NewLogs()
			b.ReportAllocs()
			for b.Loop() {
				_ = p.ConsumeLogs(ctx, ld)
			}
		})
	}
}

// TestSameStamps checks that the transform statements the benchmark measures stamp exactly
// what canaryrole stamps, so the two are compared doing the same work.
func TestSameStamps(t *testing.T) {
	for _, n := range []int{1, 10, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			want, got := newTraces(n), newTraces(n)
			require.NoError(t, canaryroleSubject(n, false).traces(t).ConsumeTraces(ctx, want))
			require.NoError(t, transformSubject(n, "traces").traces(t).ConsumeTraces(ctx, got))
			require.Equal(t, stamps(want.ResourceSpans()), stamps(got.ResourceSpans()))

			wantM, gotM := newMetrics(n), newMetrics(n)
			require.NoError(t, canaryroleSubject(n, false).metrics(t).ConsumeMetrics(ctx, wantM))
			require.NoError(t, transformSubject(n, "metrics").metrics(t).ConsumeMetrics(ctx, gotM))
			require.Equal(t, metricStamps(wantM), metricStamps(gotM))

			wantL, gotL := newLogs(n), newLogs(n)
			require.NoError(t, canaryroleSubject(n, false).logs(t).ConsumeLogs(ctx, wantL))
			require.NoError(t, transformSubject(n, "logs").logs(t).ConsumeLogs(ctx, gotL))
			require.Equal(t, logStamps(wantL), logStamps(gotL))
		})
	}
}

// stamps lists the role and canary name on each resource, "" where there is none.
func stamps(rss ptrace.ResourceSpansSlice) []string {
	out := make([]string, rss.Len())
	for i := range out {
		out[i] = stampOf(rss.At(i).Resource().Attributes())
	}
	return out
}

func metricStamps(md pmetric.Metrics) []string {
	out := make([]string, md.ResourceMetrics().Len())
	for i := range out {
		out[i] = stampOf(md.ResourceMetrics().At(i).Resource().Attributes())
	}
	return out
}

func logStamps(ld plog.Logs) []string {
	out := make([]string, ld.ResourceLogs().Len())
	for i := range out {
		out[i] = stampOf(ld.ResourceLogs().At(i).Resource().Attributes())
	}
	return out
}

// countStamped counts the resources that carry a role.
func countStamped(stamps []string) int {
	n := 0
	for _, s := range stamps {
		if !strings.HasPrefix(s, "/") {
			n++
		}
	}
	return n
}

func stampOf(attrs pcommon.Map) string {
	var role, name string
	if v, ok := attrs.Get(attrRole); ok {
		role = v.AsString()
	}
	if v, ok := attrs.Get(attrName); ok {
		name = v.AsString()
	}
	return role + "/" + name
}
