package kube

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestPruneCanaryKeepsWhatIsRead(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"name": "podinfo", "namespace": "test", "uid": "u1", "resourceVersion": "7",
			"creationTimestamp": "2026-01-01T09:00:00Z",
			"annotations":       map[string]any{lastAppliedAnnotation: "{...}"},
			"managedFields":     []any{map[string]any{"manager": "kubectl"}},
		},
		"spec": map[string]any{
			"targetRef": map[string]any{"kind": "Deployment", "name": "podinfo"},
			"analysis":  map[string]any{"interval": "1m"},
		},
		"status": map[string]any{
			"phase": "Progressing", "canaryWeight": "ten", "iterations": int64(2),
			"conditions": []any{map[string]any{"type": "Promoted"}},
		},
	}}
	before, beforeErr := CanaryFromUnstructured(u.DeepCopy())

	out, err := PruneCanary(u)
	require.NoError(t, err)
	pruned := out.(*unstructured.Unstructured)
	require.Equal(t, map[string]any{
		"apiVersion": "flagger.app/v1beta1",
		"kind":       "Canary",
		"metadata": map[string]any{
			"name": "podinfo", "namespace": "test", "uid": "u1", "resourceVersion": "7",
			"creationTimestamp": "2026-01-01T09:00:00Z",
		},
		"spec":   map[string]any{"targetRef": map[string]any{"kind": "Deployment", "name": "podinfo"}},
		"status": map[string]any{"phase": "Progressing", "canaryWeight": "ten", "iterations": int64(2)},
	}, pruned.Object)

	// The pruned object reads the same, wrong weight type included.
	after, afterErr := CanaryFromUnstructured(pruned)
	require.Equal(t, before, after)
	require.Error(t, beforeErr)
	require.Error(t, afterErr)
}

func TestPruneCanaryStatusNotAnObject(t *testing.T) {
	out, err := PruneCanary(&unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "a", "namespace": "b"},
		"status":   "broken",
	}})
	require.NoError(t, err)
	c, err := CanaryFromUnstructured(out.(*unstructured.Unstructured))
	require.ErrorContains(t, err, "status: want an object, got string")
	require.False(t, c.HasStatus)
}
