package processors

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The batch shape: resources x scopes x items, as k8sattributes leaves them in front of a
// rollout. Of every ten resources one belongs to a workload no canary rolls out; the others
// alternate between a primary and a canary.
const (
	batchResources = 100
	batchScopes    = 10
	batchItems     = 100
)

// canary names the n-th of the configured canaries: ten namespaces, one target each.
func canary(c int) (namespace, name string) {
	return fmt.Sprintf("team-%d", c%10), fmt.Sprintf("app-%04d", c)
}

// workloadOf returns the namespace and workload of resource i when n canaries are known.
// The matched resources are spread over the whole list, so no processor is favoured by
// finding its match early.
func workloadOf(i, n int) (namespace, workload string) {
	namespace, workload = canary((i / 2) * n / (batchResources / 2) % n)
	switch {
	case i%10 == 9:
		workload = "frontend"
	case i%2 == 0:
		workload += "-primary"
	}
	return namespace, workload
}

// fillResource writes the attributes an SDK and k8sattributes put on resource i.
func fillResource(attrs pcommon.Map, i, n int) {
	namespace, workload := workloadOf(i, n)
	service := strings.TrimSuffix(workload, "-primary")
	attrs.PutStr("service.name", service)
	attrs.PutStr("service.version", "6.7.1")
	attrs.PutStr("telemetry.sdk.language", "go")
	attrs.PutStr("telemetry.sdk.name", "opentelemetry")
	attrs.PutStr("telemetry.sdk.version", "1.46.0")
	attrs.PutStr("host.name", fmt.Sprintf("node-%d", i%7))
	attrs.PutStr("k8s.namespace.name", namespace)
	attrs.PutStr("k8s.node.name", fmt.Sprintf("node-%d", i%7))
	attrs.PutStr("k8s.pod.uid", fmt.Sprintf("6f1c4a9e-0c55-4c1b-9d2e-%012d", i))
	attrs.PutStr("k8s.pod.name", fmt.Sprintf("%s-7d9f8c6b5-x%04d", workload, i))
	attrs.PutStr("k8s.replicaset.name", workload+"-7d9f8c6b5")
	attrs.PutStr("k8s.deployment.name", workload)
	attrs.PutStr("k8s.pod.label.app", workload)
}

func newTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	for i := 0; i < batchResources; i++ {
		rs := td.ResourceSpans().AppendEmpty()
		fillResource(rs.Resource().Attributes(), i, n)
		for j := 0; j < batchScopes; j++ {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < batchItems; k++ {
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

func newMetrics(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := 0; i < batchResources; i++ {
		rm := md.ResourceMetrics().AppendEmpty()
		fillResource(rm.Resource().Attributes(), i, n)
		for j := 0; j < batchScopes; j++ {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < batchItems; k++ {
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

func newLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	for i := 0; i < batchResources; i++ {
		rl := ld.ResourceLogs().AppendEmpty()
		fillResource(rl.Resource().Attributes(), i, n)
		for j := 0; j < batchScopes; j++ {
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(fmt.Sprintf("instrumentation-%d", j))
			for k := 0; k < batchItems; k++ {
				lr := sl.LogRecords().AppendEmpty()
				lr.SetSeverityText("INFO")
				lr.Body().SetStr("request served")
				lr.Attributes().PutStr("http.route", "/api/items")
			}
		}
	}
	return ld
}
