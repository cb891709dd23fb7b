package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CanaryGVR is the resource of Flagger's Canary.
var CanaryGVR = schema.GroupVersionResource{
	Group:    "flagger.app",
	Version:  "v1beta1",
	Resource: "canaries",
}

// Webhook is one entry of a Canary's analysis.webhooks.
type Webhook struct {
	// Name of the webhook.
	Name string

	// Type is the hook type, e.g. flaggerv1.RolloutHook.
	Type flaggerv1.HookType

	// URL Flagger calls.
	URL string
}

// CanarySpec describes the Canary CreateCanary makes.
type CanarySpec struct {
	// Namespace and Name of the Canary; Target defaults to Name.
	Namespace string
	Name      string
	Target    string

	// Webhooks of the analysis.
	Webhooks []Webhook

	// Iterations of the analysis; zero means 3.
	Iterations int
}

// CreateCanary creates a blue/green Canary for a Deployment: the
// kubernetes provider, a 5s interval, 3 iterations unless the spec says
// otherwise, a threshold of 2 and no metrics.
//
// Note: Flagger runs the analysis at least 10s apart whatever the interval
// says, so a successful rollout takes about 80s from the new revision.
func (c *Cluster) CreateCanary(t testing.TB, spec CanarySpec) {
	t.Helper()

	target := spec.Target
	if target == "" {
		target = spec.Name
	}

	iterations := int64(spec.Iterations)
	if iterations == 0 {
		iterations = 3
	}

	webhooks := make([]any, 0, len(spec.Webhooks))
	for _, w := range spec.Webhooks {
		webhooks = append(webhooks, map[string]any{
			"name":    w.Name,
			"type":    string(w.Type),
			"url":     w.URL,
			"timeout": "5s",
		})
	}

	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"name":      spec.Name,
			"namespace": spec.Namespace,
		},
		"spec": map[string]any{
			"provider": "kubernetes",
			"targetRef": map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"name":       target,
			},
			"progressDeadlineSeconds": int64(60),
			"service": map[string]any{
				"port":          int64(9898),
				"portDiscovery": true,
			},
			"analysis": map[string]any{
				"interval":   "5s",
				"iterations": iterations,
				"threshold":  int64(2),
				"metrics":    []any{},
				"webhooks":   webhooks,
			},
		},
	}}

	_, err := c.Dynamic.Resource(CanaryGVR).Namespace(spec.Namespace).
		Create(t.Context(), obj, metav1.CreateOptions{})
	require.NoError(t, err)
}

// GetCanary reads a Canary as Flagger's typed struct.
func (c *Cluster) GetCanary(ctx context.Context, namespace, name string) (*flaggerv1.Canary, error) {
	u, err := c.Dynamic.Resource(CanaryGVR).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}

	var cd flaggerv1.Canary
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cd); err != nil {
		return nil, fmt.Errorf("convert canary %s/%s: %w", namespace, name, err)
	}

	return &cd, nil
}

// WaitForCanaryPhase waits until the Canary reports phase.
func (c *Cluster) WaitForCanaryPhase(
	t testing.TB,
	namespace, name string,
	phase flaggerv1.CanaryPhase,
	timeout time.Duration,
) {
	t.Helper()

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		cd, err := c.GetCanary(t.Context(), namespace, name)
		if !assert.NoError(ct, err) {
			return
		}
		assert.Equal(ct, phase, cd.Status.Phase, "phase of canary %s/%s", namespace, name)
	}, timeout, 250*time.Millisecond)
}

// PhaseChange is one phase a Canary was seen in, and when.
type PhaseChange struct {
	Phase flaggerv1.CanaryPhase
	At    time.Time
}

// PhaseWatcher records the distinct phases one Canary goes through.
type PhaseWatcher struct {
	mu      sync.Mutex
	changes []PhaseChange
}

// WatchCanaryPhases polls a Canary's phase until the test ends and records
// every change. Polling rather than watching keeps it working across an
// API server restart; every phase lasts at least one analysis interval.
func (c *Cluster) WatchCanaryPhases(t testing.TB, namespace, name string) *PhaseWatcher {
	t.Helper()

	w := &PhaseWatcher{}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})

	go func() {
		defer close(done)

		ticker := time.NewTicker(100 * time.Millisecond)
		defer ticker.Stop()

		for {
			cd, err := c.GetCanary(ctx, namespace, name)
			if err == nil && w.record(cd.Status.Phase) {
				t.Logf("canary %s/%s: %s at +%s", namespace, name, cd.Status.Phase,
					time.Since(start).Round(100*time.Millisecond))
			}

			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()

	t.Cleanup(func() {
		cancel()
		<-done
		t.Logf("canary %s/%s phases: %s", namespace, name, w)
	})

	return w
}

func (w *PhaseWatcher) record(phase flaggerv1.CanaryPhase) bool {
	w.mu.Lock()
	defer w.mu.Unlock()

	if phase == "" || (len(w.changes) > 0 && w.changes[len(w.changes)-1].Phase == phase) {
		return false
	}
	w.changes = append(w.changes, PhaseChange{Phase: phase, At: time.Now()})

	return true
}

// Mark returns a position in the recorded phases for WaitForAfter.
func (w *PhaseWatcher) Mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()

	return len(w.changes)
}

// WaitFor waits until the Canary has been seen in phase.
func (w *PhaseWatcher) WaitFor(t testing.TB, phase flaggerv1.CanaryPhase, timeout time.Duration) {
	t.Helper()

	w.WaitForAfter(t, 0, phase, timeout)
}

// WaitForAfter waits until the Canary has been seen in phase after the
// position mark.
func (w *PhaseWatcher) WaitForAfter(
	t testing.TB,
	mark int,
	phase flaggerv1.CanaryPhase,
	timeout time.Duration,
) {
	t.Helper()

	require.Eventually(t, func() bool {
		changes := w.Changes()
		for _, ch := range changes[min(mark, len(changes)):] {
			if ch.Phase == phase {
				return true
			}
		}
		return false
	}, timeout, 100*time.Millisecond, "canary never reached %s; phases seen: %s", phase, w)
}

// Changes returns the phases seen so far, oldest first.
func (w *PhaseWatcher) Changes() []PhaseChange {
	w.mu.Lock()
	defer w.mu.Unlock()

	return append([]PhaseChange(nil), w.changes...)
}

// Phases returns the phases seen so far, oldest first.
func (w *PhaseWatcher) Phases() []flaggerv1.CanaryPhase {
	changes := w.Changes()
	phases := make([]flaggerv1.CanaryPhase, len(changes))
	for i, ch := range changes {
		phases[i] = ch.Phase
	}

	return phases
}

// String lists the phases with the time each began, relative to the first.
func (w *PhaseWatcher) String() string {
	changes := w.Changes()
	parts := make([]string, len(changes))
	for i, ch := range changes {
		parts[i] = fmt.Sprintf("%s(+%s)", ch.Phase, ch.At.Sub(changes[0].At).Round(100*time.Millisecond))
	}

	return strings.Join(parts, " → ")
}

// DeleteCanary deletes a Canary.
func (c *Cluster) DeleteCanary(t testing.TB, namespace, name string) {
	t.Helper()

	err := c.Dynamic.Resource(CanaryGVR).Namespace(namespace).Delete(t.Context(), name, metav1.DeleteOptions{})
	require.NoError(t, err)
}
