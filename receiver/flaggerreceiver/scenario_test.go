package flaggerreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the expected golden files from the current output")

// scenario is a sequence of what the sources deliver, read from testdata/scenarios/*/input.yaml.
type scenario struct {
	// Start is when the receiver starts: older changes count as already reported.
	Start time.Time `json:"start"`
	// Sources is kubernetes (default), webhook or both.
	Sources string `json:"sources"`
	Steps   []step `json:"steps"`
}

// step is one delivery. Exactly one of Canary, Raw, Delete, Event and Webhook is set.
type step struct {
	// At moves the receiver's clock.
	At time.Time `json:"at"`
	// Canary is a Canary in short form; Raw is a Canary object as the API serves it.
	Canary *shortCanary   `json:"canary"`
	Raw    map[string]any `json:"raw"`
	Delete string         `json:"delete"`
	Event  *shortEvent    `json:"event"`
	// Webhook is a request body posted to the webhook.
	Webhook json.RawMessage `json:"webhook"`
}

type shortCanary struct {
	Namespace          string    `json:"namespace"`
	Name               string    `json:"name"`
	UID                string    `json:"uid"`
	Created            time.Time `json:"created"`
	TargetKind         string    `json:"targetKind"`
	Target             string    `json:"target"`
	NoStatus           bool      `json:"noStatus"`
	Phase              string    `json:"phase"`
	Weight             int64     `json:"weight"`
	FailedChecks       int64     `json:"failedChecks"`
	Iterations         int64     `json:"iterations"`
	Revision           string    `json:"revision"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

func (c *shortCanary) object() *unstructured.Unstructured {
	ns, name, kind, target := or(c.Namespace, "test"), or(c.Name, "podinfo"), or(c.TargetKind, "Deployment"), or(c.Target, "podinfo")
	obj := map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"namespace":         ns,
			"name":              name,
			"uid":               or(c.UID, "uid-"+name),
			"creationTimestamp": c.Created.UTC().Format(time.RFC3339),
			"managedFields":     []any{map[string]any{"manager": "kubectl"}},
		},
		"spec": map[string]any{
			"targetRef": map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": target},
		},
	}
	if !c.NoStatus {
		obj["status"] = map[string]any{
			"phase":              c.Phase,
			"canaryWeight":       c.Weight,
			"failedChecks":       c.FailedChecks,
			"iterations":         c.Iterations,
			"lastAppliedSpec":    c.Revision,
			"lastTransitionTime": c.LastTransitionTime.UTC().Format(time.RFC3339),
		}
	}
	return &unstructured.Unstructured{Object: obj}
}

type shortEvent struct {
	Namespace string    `json:"namespace"`
	Canary    string    `json:"canary"`
	UID       string    `json:"uid"`
	Type      string    `json:"type"`
	Message   string    `json:"message"`
	Count     int32     `json:"count"`
	Last      time.Time `json:"last"`
}

func (e *shortEvent) object() *corev1.Event {
	ns, canary := or(e.Namespace, "test"), or(e.Canary, "podinfo")
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: canary + "." + e.UID, UID: types.UID(e.UID)},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Canary", APIVersion: "flagger.app/v1beta1", Namespace: ns, Name: canary,
		},
		Reason:        "Synced",
		Type:          or(e.Type, corev1.EventTypeNormal),
		Message:       e.Message,
		Count:         e.Count,
		LastTimestamp: metav1.NewTime(e.Last),
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// scenarioConfig turns on the sources a scenario names.
func scenarioConfig(sources string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ClusterName = "test-cluster"
	cfg.DedupWindow = 100 * time.Millisecond
	k8s := KubernetesConfig{API: kube.APIConfig{AuthType: kube.AuthTypeNone}, Events: true}
	hook := WebhookConfig{Path: "/events"}
	switch sources {
	case "webhook":
		cfg.Webhook = configoptional.Some(hook)
	case "both":
		cfg.Kubernetes = configoptional.Some(k8s)
		cfg.Webhook = configoptional.Some(hook)
	default:
		cfg.Kubernetes = configoptional.Some(k8s)
	}
	return cfg
}

// runScenario feeds the steps to the receiver's handlers, in order, on a fake clock.
func runScenario(t *testing.T, sc *scenario) (plog.Logs, *flaggerReceiver) {
	cfg := scenarioConfig(sc.Sources)
	set := receivertest.NewNopSettings(metadata.Type)
	r, err := newReceiver(set, cfg)
	require.NoError(t, err)
	logs := new(consumertest.LogsSink)
	r.setLogs(logs)
	clock := sc.Start
	r.now = func() time.Time { return clock }
	r.tracker = newTracker(sc.Start, durationBounds)
	if cfg.Kubernetes.HasValue() && cfg.Webhook.HasValue() {
		r.dedup = newDeduplicator(cfg.DedupWindow, func(ev *flaggerEvent) error {
			return r.emitEvent(context.Background(), ev)
		}, func() {})
	}
	k := newKubernetesSource(r, cfg.Kubernetes.Get(), kube.Clients{})
	hook := &webhookHandler{r: r, path: "/events"}

	for i, s := range sc.Steps {
		if !s.At.IsZero() {
			clock = s.At
		}
		switch {
		case s.Canary != nil:
			k.onCanary(s.Canary.object())
		case s.Raw != nil:
			k.onCanary(&unstructured.Unstructured{Object: s.Raw})
		case s.Delete != "":
			ns, name, _ := cutKey(s.Delete)
			k.onCanaryDelete(&unstructured.Unstructured{Object: map[string]any{
				"metadata": map[string]any{"namespace": ns, "name": name},
			}})
		case s.Event != nil:
			k.onEvent(s.Event.object())
		case s.Webhook != nil:
			req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(s.Webhook))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			hook.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, "step %d: %s", i, rec.Body.String())
		default:
			t.Fatalf("step %d does nothing", i)
		}
	}
	if r.dedup != nil {
		r.dedup.stop()
	}

	out := plog.NewLogs()
	for _, ld := range logs.AllLogs() {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	return out, r
}

func cutKey(key string) (string, string, bool) {
	for i := range key {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// TestScenarios compares what each scenario produces with its expected logs and metrics.
func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			var sc scenario
			require.NoError(t, yaml.UnmarshalStrict(raw, &sc))

			logs, r := runScenario(t, &sc)
			r.mu.Lock()
			metrics := r.buildMetrics(r.now())
			r.mu.Unlock()

			logsFile := filepath.Join(dir, "expected-logs.yaml")
			metricsFile := filepath.Join(dir, "expected-metrics.yaml")
			if *update {
				require.NoError(t, golden.WriteLogs(t, logsFile, logs))
				require.NoError(t, golden.WriteMetrics(t, metricsFile, metrics))
			}
			wantLogs, err := golden.ReadLogs(logsFile)
			require.NoError(t, err)
			require.NoError(t, plogtest.CompareLogs(wantLogs, logs, plogtest.IgnoreObservedTimestamp()))
			wantMetrics, err := golden.ReadMetrics(metricsFile)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(wantMetrics, metrics,
				pmetrictest.IgnoreStartTimestamp(), pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreMetricDataPointsOrder()))
		})
	}
}
