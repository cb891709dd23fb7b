package flaggerreceiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

func benchReceiver(b *testing.B, sources string) *flaggerReceiver {
	b.Helper()
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), scenarioConfig(sources))
	require.NoError(b, err)
	r.setLogs(consumertest.NewNop())
	r.setMetrics(consumertest.NewNop())
	r.tracker = newTracker(time.Unix(0, 0), durationBounds)
	return r
}

// BenchmarkCanaryChange converts Canary updates that each change the weight into records.
func BenchmarkCanaryChange(b *testing.B) {
	r := benchReceiver(b, "kubernetes")
	k := newKubernetesSource(r, r.cfg.Kubernetes.Get(), kube.Clients{})
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	objs := make([]*unstructured.Unstructured, 100)
	for i := range objs {
		objs[i] = (&shortCanary{Created: at, Phase: "Progressing", Weight: int64(i % 50), Iterations: int64(i), Revision: "r2", LastTransitionTime: at.Add(time.Duration(i) * time.Second)}).object()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k.onCanary(objs[i%len(objs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkKubernetesEvent converts new Flagger Event occurrences into records.
func BenchmarkKubernetesEvent(b *testing.B) {
	r := benchReceiver(b, "kubernetes")
	k := newKubernetesSource(r, r.cfg.Kubernetes.Get(), kube.Clients{})
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	ev := (&shortEvent{UID: "e1", Message: "Advance podinfo.test canary weight 10", Last: at}).object()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Count = int32(i + 1)
		k.onEvent(ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWebhookRequest handles Flagger event webhook requests end to end, without the
// network.
func BenchmarkWebhookRequest(b *testing.B) {
	r := benchReceiver(b, "webhook")
	h := &webhookHandler{r: r, path: "/events"}
	body := []byte(eventPayload)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Body.String())
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWebhookHandler is BenchmarkWebhookRequest without building a request and a
// recorder each time, which is test scaffolding, not work a server does per request.
func BenchmarkWebhookHandler(b *testing.B) {
	r := benchReceiver(b, "webhook")
	h := &webhookHandler{r: r, path: "/events"}
	body := []byte(eventPayload)
	rd := bytes.NewReader(body)
	req := httptest.NewRequest(http.MethodPost, "/events", rd)
	req.Header.Set("Content-Type", "application/json")
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd.Reset(body)
		clear(w.header)
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// discardWriter is a ResponseWriter that keeps the status and drops the body.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkWebhookDecode is the baseline for BenchmarkWebhookRequest: decoding the same
// body into the payload type and its metadata strings, and nothing else.
func BenchmarkWebhookDecode(b *testing.B) {
	body := []byte(eventPayload)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var p webhookPayload
		if err := json.Unmarshal(body, &p); err != nil {
			b.Fatal(err)
		}
		for _, raw := range p.Metadata {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// realisticCanary is a Canary as a cluster serves it: a full analysis spec, managed fields,
// kubectl's last-applied copy and a status with conditions.
func realisticCanary(i int) *unstructured.Unstructured {
	name := fmt.Sprintf("app-%05d", i)
	spec := map[string]any{
		"targetRef":               map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
		"autoscalerRef":           map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": name},
		"progressDeadlineSeconds": int64(60),
		"service": map[string]any{
			"port": int64(9898), "targetPort": int64(9898), "portDiscovery": true,
			"gateways": []any{"public-gateway.istio-system.svc.cluster.local"},
			"hosts":    []any{name + ".example.com"},
		},
		"analysis": map[string]any{
			"interval": "1m", "threshold": int64(5), "maxWeight": int64(50), "stepWeight": int64(10),
			"metrics": []any{
				map[string]any{"name": "request-success-rate", "thresholdRange": map[string]any{"min": int64(99)}, "interval": "1m"},
				map[string]any{"name": "request-duration", "thresholdRange": map[string]any{"max": int64(500)}, "interval": "30s"},
			},
			"webhooks": []any{
				map[string]any{"name": "acceptance-test", "type": "pre-rollout", "url": "http://flagger-loadtester.test/", "timeout": "30s",
					"metadata": map[string]any{"type": "bash", "cmd": "curl -sd 'test' http://" + name + "-canary.test:9898/token | grep token"}},
				map[string]any{"name": "load-test", "url": "http://flagger-loadtester.test/", "timeout": "5s",
					"metadata": map[string]any{"cmd": "hey -z 1m -q 10 -c 2 http://" + name + "-canary.test:9898/"}},
			},
		},
	}
	status := map[string]any{
		"phase": "Succeeded", "canaryWeight": int64(0), "failedChecks": int64(0), "iterations": int64(0),
		"lastAppliedSpec": "5d8f7c9b4", "lastPromotedSpec": "5d8f7c9b4", "lastTransitionTime": "2026-01-01T09:05:00Z",
		"trackedConfigs": map[string]any{},
		"conditions": []any{map[string]any{
			"type": "Promoted", "status": "True", "reason": "Succeeded",
			"message":        "Canary analysis completed successfully, promotion finished.",
			"lastUpdateTime": "2026-01-01T09:05:00Z", "lastTransitionTime": "2026-01-01T09:05:00Z",
		}},
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"name": name, "namespace": "test", "uid": "uid-" + name, "resourceVersion": "12345",
			"generation": int64(1), "creationTimestamp": "2026-01-01T09:00:00Z",
			"annotations": map[string]any{
				"kubectl.kubernetes.io/last-applied-configuration": fmt.Sprintf(`{"apiVersion":"flagger.app/v1beta1","kind":"Canary","metadata":{"name":%q,"namespace":"test"},"spec":{"analysis":{"interval":"1m","maxWeight":50,"metrics":[{"interval":"1m","name":"request-success-rate","thresholdRange":{"min":99}},{"interval":"30s","name":"request-duration","thresholdRange":{"max":500}}],"stepWeight":10,"threshold":5},"service":{"port":9898},"targetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":%q}}}`, name, name),
			},
			"managedFields": []any{
				map[string]any{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "flagger.app/v1beta1",
					"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:spec": map[string]any{"f:analysis": map[string]any{".": map[string]any{}, "f:interval": map[string]any{}}}}},
				map[string]any{"manager": "flagger", "operation": "Update", "apiVersion": "flagger.app/v1beta1", "subresource": "status",
					"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:status": map[string]any{".": map[string]any{}, "f:phase": map[string]any{}}}},
			},
		},
		"spec":   spec,
		"status": status,
	}}
}

// BenchmarkHeapPerCanary fills an informer cache the way the Kubernetes source does, plus
// the receiver's own state, and reports the retained heap per Canary.
func BenchmarkHeapPerCanary(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var perCanary float64
			for i := 0; i < b.N; i++ {
				perCanary = heapPerCanary(b, n)
			}
			b.ReportMetric(perCanary, "B/canary")
		})
	}
}

func heapPerCanary(b *testing.B, n int) float64 {
	r := benchReceiver(b, "kubernetes")
	k := newKubernetesSource(r, r.cfg.Kubernetes.Get(), kube.Clients{})
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		// What the Canary informer keeps: the decoded object after its cache transform.
		stripped, err := kube.PruneCanary(realisticCanary(i))
		require.NoError(b, err)
		require.NoError(b, store.Add(stripped))
		k.onCanary(stripped)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(store)
	runtime.KeepAlive(r)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
}
