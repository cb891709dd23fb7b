package canaryroleprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

// canaryStatus is the part of a Canary's status the tests drive.
type canaryStatus struct {
	phase    string
	weight   int64
	revision string
}

// canaryObject builds a Canary as the API server returns it.
func canaryObject(namespace, name, target string, status *canaryStatus) *unstructured.Unstructured {
	obj := map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"namespace": namespace,
			"name":      name,
			"uid":       namespace + "-" + name,
		},
		"spec": map[string]any{
			"targetRef": map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"name":       target,
			},
		},
	}
	if status != nil {
		obj["status"] = map[string]any{
			"phase":           status.phase,
			"canaryWeight":    status.weight,
			"lastAppliedSpec": status.revision,
		}
	}
	return &unstructured.Unstructured{Object: obj}
}

func newFakeClient(objects ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(
		runtime.NewScheme(),
		map[schema.GroupVersionResource]string{kube.CanaryGVR: "CanaryList"},
		objects...)
}

func withClient(client dynamic.Interface) clientFunc {
	return func(kube.APIConfig) (dynamic.Interface, error) { return client, nil }
}

func updateCanary(t *testing.T, client dynamic.Interface, obj *unstructured.Unstructured) {
	t.Helper()
	_, err := client.Resource(kube.CanaryGVR).Namespace(obj.GetNamespace()).
		Update(context.Background(), obj, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func deleteCanary(t *testing.T, client dynamic.Interface, namespace, name string) {
	t.Helper()
	err := client.Resource(kube.CanaryGVR).Namespace(namespace).
		Delete(context.Background(), name, metav1.DeleteOptions{})
	require.NoError(t, err)
}

// waitForIndex waits until the index of the component satisfies cond.
func waitForIndex(t *testing.T, id component.ID, cond func(*index) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		sources.mu.Lock()
		s := sources.sources[id]
		sources.mu.Unlock()
		return s != nil && cond(s.current.Load())
	}, 5*time.Second, 10*time.Millisecond)
}

// statusHost records the component status reported to it.
type statusHost struct {
	component.Host

	mu     sync.Mutex
	events []*componentstatus.Event
}

func newStatusHost() *statusHost {
	return &statusHost{Host: componenttest.NewNopHost()}
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]componentstatus.Status, 0, len(h.events))
	for _, ev := range h.events {
		out = append(out, ev.Status())
	}
	return out
}
