package smoke

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// What the canaryrole processor stamps on the static canary test/podinfo of local.yaml.
var (
	canarySide  = map[string]any{"flagger.canary.role": "canary", "flagger.canary.name": "podinfo"}
	primarySide = map[string]any{"flagger.canary.role": "primary", "flagger.canary.name": "podinfo"}
)

// The Flagger event the webhook test posts, as Flagger 1.36 sends it.
const (
	webhookMessage = "Advance podinfo.test canary weight 10"
	webhookPayload = `{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"6d5c7b8f9",` +
		`"metadata":{"eventMessage":"` + webhookMessage + `","eventType":"Normal","timestamp":"1700000000000"}}`
	// A rollback hook's payload: no event metadata. The receiver must refuse it, because
	// Flagger rolls the canary back when a rollback hook answers 200.
	rollbackPayload = `{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"6d5c7b8f9"}`
)

// TestLocalConfig runs the collector on configs/local.yaml and checks every way in and out.
func TestLocalConfig(t *testing.T) {
	bin := otelcolBin(t)
	cfg := writeTestConfig(t)
	c := startCollector(t, bin, cfg.path)

	// health_check answers 200 once every pipeline has started.
	c.eventually(t, func() bool {
		return httpStatus(cfg.url(portHealthCheck, "/")) == http.StatusOK
	}, "health_check on %s to answer 200", cfg.addr(portHealthCheck))

	t.Run("traces", func(t *testing.T) {
		sendOTLPGRPCTraces(t, cfg.addr(portOTLPGRPC))
		sendOTLPHTTPTraces(t, cfg.url(portOTLPHTTP, "/v1/traces"))
		sendJaegerThriftHTTP(t, cfg.url(portJaegerThrift, "/api/traces"))

		want := map[string]map[string]any{
			"smoke-otlp-grpc": merge(map[string]any{
				"service.name":        "checkout",
				"k8s.namespace.name":  "test",
				"k8s.deployment.name": "podinfo",
			}, canarySide),
			"smoke-otlp-grpc-unrelated": {
				"service.name":        "frontend",
				"k8s.namespace.name":  "test",
				"k8s.deployment.name": "frontend",
			},
			"smoke-otlp-http": merge(map[string]any{
				"service.name":        "checkout",
				"k8s.namespace.name":  "test",
				"k8s.deployment.name": "podinfo-primary",
			}, primarySide),
			"smoke-jaeger-thrift-http": merge(map[string]any{
				"service.name":       "checkout-jaeger",
				"k8s.namespace.name": "test",
				"k8s.pod.name":       "podinfo-7d4b9c8f6d-x2k9z",
			}, canarySide),
		}
		var got map[string]foundSpan
		c.eventually(t, func() bool {
			got = spansByName(t, cfg.tracesFile)
			for name := range want {
				if _, ok := got[name]; !ok {
					return false
				}
			}
			return true
		}, "every span sent to come out of the traces pipeline")
		for name, resource := range want {
			assert.Equal(t, resource, got[name].resource, "resource of span %s", name)
		}
		assert.Equal(t, map[string]any{"smoke.transport": "jaeger-thrift-http"},
			got["smoke-jaeger-thrift-http"].span.Attributes().AsRaw())
	})

	t.Run("metrics", func(t *testing.T) {
		sendOTLPMetrics(t, cfg.addr(portOTLPGRPC))

		var got []foundMetric
		c.eventually(t, func() bool {
			got = metricsNamed(t, cfg.metricsFile, "smoke.queue.depth")
			return len(got) > 0
		}, "smoke.queue.depth to come out of the metrics pipeline")
		assert.Equal(t, merge(map[string]any{
			"service.name":        "checkout",
			"k8s.namespace.name":  "test",
			"k8s.deployment.name": "podinfo",
		}, canarySide), got[0].resource)
		require.Equal(t, pmetric.MetricTypeGauge, got[0].metric.Type())
		dp := got[0].metric.Gauge().DataPoints().At(0)
		assert.Equal(t, int64(42), dp.IntValue())
		// metric_labels: the role is on the data point too, for Prometheus.
		assert.Equal(t, merge(map[string]any{"queue": "orders"}, canarySide), dp.Attributes().AsRaw())
	})

	t.Run("flagger_webhook", func(t *testing.T) {
		status, body := post(t, cfg.url(portWebhook, "/events"), webhookPayload)
		require.Equal(t, http.StatusOK, status, body)
		status, body = post(t, cfg.url(portWebhook, "/events"), rollbackPayload)
		require.Equal(t, http.StatusBadRequest, status, "a non-event hook must not get 200: %s", body)

		var logs []foundLog
		c.eventually(t, func() bool {
			logs = logsWithBody(t, cfg.logsFile, webhookMessage)
			return len(logs) > 0
		}, "the Flagger event to come out of the logs pipeline")
		require.Len(t, logs, 1, "one event posted, one record")
		// The flagger pipelines skip canaryrole: the resource is the Canary, not a side of it.
		assert.Equal(t, map[string]any{
			"k8s.namespace.name":  "test",
			"flagger.canary.name": "podinfo",
		}, logs[0].resource)
		lr := logs[0].record
		assert.Equal(t, "flagger.canary.event", lr.EventName())
		assert.Equal(t, time.UnixMilli(1700000000000).UTC(), lr.Timestamp().AsTime())
		assert.Equal(t, map[string]any{
			"event.name":              "flagger.canary.event",
			"flagger.event.type":      "Normal",
			"flagger.event.source":    "webhook",
			"flagger.canary.phase":    "Progressing",
			"flagger.canary.revision": "6d5c7b8f9",
		}, lr.Attributes().AsRaw())

		// Without the Kubernetes source the webhook's phase feeds the phase gauge.
		c.eventually(t, func() bool {
			for _, m := range metricsNamed(t, cfg.metricsFile, "flagger.canary.phase") {
				for _, dp := range m.metric.Gauge().DataPoints().All() {
					phase, _ := dp.Attributes().Get("flagger.canary.phase")
					if phase.Str() == "Progressing" && dp.IntValue() == 1 &&
						m.resource["flagger.canary.name"] == "podinfo" {
						return true
					}
				}
			}
			return false
		}, "flagger.canary.phase{phase=Progressing} = 1 for test/podinfo")
	})

	t.Run("prometheus", func(t *testing.T) {
		// Written by the condition, which runs on its own goroutine; read when it fails.
		var queueDepth, canaryPhase, selfTelemetry atomic.Bool
		defer func() {
			if t.Failed() {
				t.Logf("found: smoke_queue_depth %v, flagger_canary_phase %v, otelcol_process_* %v",
					queueDepth.Load(), canaryPhase.Load(), selfTelemetry.Load())
			}
		}()
		c.eventually(t, func() bool {
			var q, p, s bool
			for _, line := range scrape(cfg.url(portPromExporter, "/metrics")) {
				if strings.HasPrefix(line, "smoke_queue_depth{") &&
					containsAll(line, `flagger_canary_role="canary"`, `flagger_canary_name="podinfo"`,
						`k8s_namespace_name="test"`, `k8s_deployment_name="podinfo"`, `queue="orders"`) &&
					strings.HasSuffix(line, " 42") {
					q = true
				}
				// Without the resource labels, the series of two canaries would be the same
				// series.
				if strings.HasPrefix(line, "flagger_canary_phase{") &&
					containsAll(line, `flagger_canary_phase="Progressing"`, `flagger_canary_name="podinfo"`,
						`k8s_namespace_name="test"`) &&
					strings.HasSuffix(line, " 1") {
					p = true
				}
				// The collector's own telemetry, scraped by the prometheus receiver.
				if strings.HasPrefix(line, "otelcol_process_") {
					s = true
				}
			}
			queueDepth.Store(q)
			canaryPhase.Store(p)
			selfTelemetry.Store(s)
			return q && p && s
		}, "the prometheus exporter to serve smoke_queue_depth, flagger_canary_phase and "+
			"the collector's own metrics")
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func merge(maps ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// newTraces returns one resource with one span.
func newTraces(td ptrace.Traces, resource map[string]any, span string, id byte) {
	rs := td.ResourceSpans().AppendEmpty()
	_ = rs.Resource().Attributes().FromRaw(resource)
	s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName(span)
	s.SetKind(ptrace.SpanKindServer)
	s.SetTraceID(pcommon.TraceID{0x5e, 0xed, 15: id})
	s.SetSpanID(pcommon.SpanID{0x5e, 7: id})
	now := time.Now()
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
}

func grpcConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func sendOTLPGRPCTraces(t *testing.T, addr string) {
	t.Helper()
	td := ptrace.NewTraces()
	newTraces(td, map[string]any{
		"service.name":        "checkout",
		"k8s.namespace.name":  "test",
		"k8s.deployment.name": "podinfo",
	}, "smoke-otlp-grpc", 1)
	newTraces(td, map[string]any{
		"service.name":        "frontend",
		"k8s.namespace.name":  "test",
		"k8s.deployment.name": "frontend",
	}, "smoke-otlp-grpc-unrelated", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ptraceotlp.NewGRPCClient(grpcConn(t, addr)).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	require.NoError(t, err, "OTLP gRPC export to %s", addr)
}

func sendOTLPHTTPTraces(t *testing.T, url string) {
	t.Helper()
	td := ptrace.NewTraces()
	newTraces(td, map[string]any{
		"service.name":        "checkout",
		"k8s.namespace.name":  "test",
		"k8s.deployment.name": "podinfo-primary",
	}, "smoke-otlp-http", 3)
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	resp, err := httpClient.Post(url, "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "OTLP HTTP export to %s: %s", url, msg)
}

func sendJaegerThriftHTTP(t *testing.T, url string) {
	t.Helper()
	str := func(k, v string) *jaeger.Tag { return &jaeger.Tag{Key: k, VType: jaeger.TagType_STRING, VStr: &v} }
	now := time.Now()
	batch := &jaeger.Batch{
		Process: &jaeger.Process{
			ServiceName: "checkout-jaeger",
			Tags: []*jaeger.Tag{
				str("k8s.namespace.name", "test"),
				// A pod of the canary Deployment: <deployment>-<pod-template-hash>-<suffix>.
				str("k8s.pod.name", "podinfo-7d4b9c8f6d-x2k9z"),
			},
		},
		Spans: []*jaeger.Span{{
			TraceIdLow:    4,
			TraceIdHigh:   0x5eed,
			SpanId:        4,
			OperationName: "smoke-jaeger-thrift-http",
			Flags:         1,
			StartTime:     now.Add(-time.Second).UnixMicro(),
			Duration:      time.Second.Microseconds(),
			Tags:          []*jaeger.Tag{str("smoke.transport", "jaeger-thrift-http")},
		}},
	}
	body, err := thrift.NewTSerializer().Write(context.Background(), batch)
	require.NoError(t, err)
	resp, err := httpClient.Post(url, "application/x-thrift", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	require.Less(t, resp.StatusCode, 300, "Jaeger Thrift HTTP to %s: %d %s", url, resp.StatusCode, msg)
}

func sendOTLPMetrics(t *testing.T, addr string) {
	t.Helper()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	_ = rm.Resource().Attributes().FromRaw(map[string]any{
		"service.name":        "checkout",
		"k8s.namespace.name":  "test",
		"k8s.deployment.name": "podinfo",
	})
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("smoke.queue.depth")
	m.SetDescription("Messages waiting, sent by the smoke test.")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	dp.SetIntValue(42)
	dp.Attributes().PutStr("queue", "orders")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pmetricotlp.NewGRPCClient(grpcConn(t, addr)).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
	require.NoError(t, err, "OTLP gRPC metrics export to %s", addr)
}

func post(t *testing.T, url, payload string) (int, string) {
	t.Helper()
	resp, err := httpClient.Post(url, "application/json", strings.NewReader(payload))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// httpStatus returns the status of a GET, or 0 when the request fails.
func httpStatus(url string) int {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// scrape returns the lines of a Prometheus text exposition, or none when it fails.
func scrape(url string) []string {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
