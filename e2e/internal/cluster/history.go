package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// CanaryVersion is one version of a Canary as the API served it.
type CanaryVersion struct {
	// At is when the watch delivered it.
	At time.Time

	// ResourceVersion of the object.
	ResourceVersion string

	// Deleted is set on the last version, when the Canary was deleted.
	Deleted bool

	// HasStatus is false until Flagger first writes the status.
	HasStatus bool

	// Status is the Canary's status as Flagger wrote it.
	Status flaggerv1.CanaryStatus

	// Created is the Canary's creation time.
	Created time.Time
}

// CanaryState is what of a status the flagger receiver reports on: a
// change of any of these is one phase_change record.
type CanaryState struct {
	Phase        string
	Weight       int64
	FailedChecks int64
	Iterations   int64
	Revision     string
}

func (s CanaryState) String() string {
	return fmt.Sprintf("%s w=%d f=%d i=%d rev=%s", s.Phase, s.Weight, s.FailedChecks, s.Iterations, s.Revision)
}

// State returns the reported part of the version's status.
func (v CanaryVersion) State() CanaryState {
	return CanaryState{
		Phase:        string(v.Status.Phase),
		Weight:       int64(v.Status.CanaryWeight),
		FailedChecks: int64(v.Status.FailedChecks),
		Iterations:   int64(v.Status.Iterations),
		Revision:     v.Status.LastAppliedSpec,
	}
}

// CanaryHistory records every version of one Canary that a watch delivers,
// from before the Canary exists until the test ends. The watch is an
// informer: it survives an API server restart by listing again, so a
// version that lived only while the API server was down is not seen.
type CanaryHistory struct {
	mu       sync.Mutex
	versions []CanaryVersion
}

// WatchCanary starts recording the versions of a Canary. Call it before the
// Canary is created to see its whole life.
func (c *Cluster) WatchCanary(t testing.TB, namespace, name string) *CanaryHistory {
	t.Helper()

	h := &CanaryHistory{}
	// A plain ListWatch: client-go's informers package would compile an
	// informer for every API group into the tests.
	canaries := c.Dynamic.Resource(CanaryGVR).Namespace(namespace)
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return canaries.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return canaries.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { h.record(obj, false) },
		UpdateFunc: func(_, obj any) { h.record(obj, false) },
		DeleteFunc: func(obj any) { h.record(obj, true) },
	})
	require.NoError(t, err)

	runInformer(t, inf)

	return h
}

func (h *CanaryHistory) record(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}

	v := CanaryVersion{
		At:              time.Now(),
		ResourceVersion: u.GetResourceVersion(),
		Deleted:         deleted,
		Created:         u.GetCreationTimestamp().UTC(),
	}
	if status, ok := u.Object["status"].(map[string]any); ok {
		v.HasStatus = true
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(status, &v.Status)
	}

	h.mu.Lock()
	defer h.mu.Unlock()

	if n := len(h.versions); n > 0 && !deleted && h.versions[n-1].ResourceVersion == v.ResourceVersion {
		return
	}
	h.versions = append(h.versions, v)
}

// Versions returns the versions seen so far, oldest first.
func (h *CanaryHistory) Versions() []CanaryVersion {
	h.mu.Lock()
	defer h.mu.Unlock()

	return append([]CanaryVersion(nil), h.versions...)
}

// Last returns the latest version seen, if any.
func (h *CanaryHistory) Last() (CanaryVersion, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()

	if len(h.versions) == 0 {
		return CanaryVersion{}, false
	}

	return h.versions[len(h.versions)-1], true
}

// Len returns how many versions were seen so far.
func (h *CanaryHistory) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()

	return len(h.versions)
}

// WaitForPhase waits until a version from position from on has phase, and
// returns its position.
func (h *CanaryHistory) WaitForPhase(
	t testing.TB,
	from int,
	phase flaggerv1.CanaryPhase,
	timeout time.Duration,
) int {
	t.Helper()

	at := -1
	require.Eventually(t, func() bool {
		versions := h.Versions()
		for i := min(from, len(versions)); i < len(versions); i++ {
			if versions[i].Status.Phase == phase && !versions[i].Deleted {
				at = i
				return true
			}
		}
		return false
	}, timeout, 100*time.Millisecond, "canary never reached %s; seen: %s", phase, h)

	return at
}

// WaitFor waits until a version from position from on satisfies ok, and
// returns its position.
func (h *CanaryHistory) WaitFor(
	t testing.TB,
	from int,
	what string,
	ok func(CanaryVersion) bool,
	timeout time.Duration,
) int {
	t.Helper()

	at := -1
	require.Eventually(t, func() bool {
		versions := h.Versions()
		for i := min(from, len(versions)); i < len(versions); i++ {
			if ok(versions[i]) {
				at = i
				return true
			}
		}
		return false
	}, timeout, 100*time.Millisecond, "canary never got %s; seen: %s", what, h)

	return at
}

// States returns the distinct consecutive reported states of the versions
// with a status, each with the first version that had it.
func States(versions []CanaryVersion) []CanaryVersion {
	var out []CanaryVersion
	for _, v := range versions {
		if !v.HasStatus || v.Deleted {
			continue
		}
		if len(out) > 0 && out[len(out)-1].State() == v.State() {
			continue
		}
		out = append(out, v)
	}

	return out
}

// String lists the distinct states seen, with when each began.
func (h *CanaryHistory) String() string {
	versions := h.Versions()
	if len(versions) == 0 {
		return "(nothing)"
	}

	start := versions[0].At
	var parts []string
	for _, v := range States(versions) {
		parts = append(parts, fmt.Sprintf("[+%s %s]", v.At.Sub(start).Round(100*time.Millisecond), v.State()))
	}
	if last := versions[len(versions)-1]; last.Deleted {
		parts = append(parts, fmt.Sprintf("[+%s deleted]", last.At.Sub(start).Round(100*time.Millisecond)))
	}

	return strings.Join(parts, " ")
}

// EventVersion is one version of a core/v1 Event as the API served it.
type EventVersion struct {
	// At is when the watch delivered it.
	At time.Time

	// Event is the object.
	Event *corev1.Event
}

// Count is the number of occurrences the Event stands for.
func (v EventVersion) Count() int64 {
	n := int64(v.Event.Count)
	if v.Event.Series != nil && int64(v.Event.Series.Count) > n {
		n = int64(v.Event.Series.Count)
	}

	return max(n, 1)
}

// EventHistory records every version of the Events about Canaries in one
// namespace.
type EventHistory struct {
	mu       sync.Mutex
	versions []EventVersion
}

// WatchEvents starts recording the Events about Canaries in a namespace.
func (c *Cluster) WatchEvents(t testing.TB, namespace string) *EventHistory {
	t.Helper()

	h := &EventHistory{}
	lw := cache.NewFilteredListWatchFromClient(c.Kube.CoreV1().RESTClient(), "events", namespace,
		func(o *metav1.ListOptions) { o.FieldSelector = "involvedObject.kind=Canary" })
	inf := cache.NewSharedIndexInformer(lw, &corev1.Event{}, 0, cache.Indexers{})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    h.record,
		UpdateFunc: func(_, obj any) { h.record(obj) },
	})
	require.NoError(t, err)

	runInformer(t, inf)

	return h
}

func (h *EventHistory) record(obj any) {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return
	}

	h.mu.Lock()
	defer h.mu.Unlock()

	h.versions = append(h.versions, EventVersion{At: time.Now(), Event: ev.DeepCopy()})
}

// Versions returns the versions seen so far, in the order they came.
func (h *EventHistory) Versions() []EventVersion {
	h.mu.Lock()
	defer h.mu.Unlock()

	return append([]EventVersion(nil), h.versions...)
}

// Occurrences returns the versions that stand for a new occurrence: the
// first version of each Event and every version whose count rose.
func (h *EventHistory) Occurrences() []EventVersion {
	counts := map[string]int64{}
	var out []EventVersion
	for _, v := range h.Versions() {
		uid := string(v.Event.UID)
		prev, seen := counts[uid]
		if seen && v.Count() <= prev {
			continue
		}
		counts[uid] = v.Count()
		out = append(out, v)
	}

	return out
}

// runInformer runs an informer until the test ends and waits for its first
// list.
func runInformer(t testing.TB, inf cache.SharedIndexInformer) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		inf.RunWithContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	syncCtx, syncCancel := context.WithTimeout(ctx, time.Minute)
	defer syncCancel()
	require.True(t, cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced), "informer never synced")
}
