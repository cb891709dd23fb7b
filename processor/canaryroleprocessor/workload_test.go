package canaryroleprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

func TestTrimSuffix(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
		want     string
		ok       bool
	}{
		{name: "podinfo-7d9f8c6b5", min: 1, max: maxHashLen, want: "podinfo", ok: true},
		{name: "podinfo-primary-7d9f8c6b5", min: 1, max: maxHashLen, want: "podinfo-primary", ok: true},
		{name: "podinfo-primary", min: 1, max: maxHashLen}, // vowels never appear in a hash
		{name: "podinfo-x2kqz", min: podSuffixLen, max: podSuffixLen, want: "podinfo", ok: true},
		{name: "podinfo-x2kq", min: podSuffixLen, max: podSuffixLen},
		{name: "podinfo-x2kqz0", min: podSuffixLen, max: podSuffixLen},
		{name: "podinfo-X2KQZ", min: podSuffixLen, max: podSuffixLen},
		{name: "podinfo", min: 1, max: maxHashLen},
		{name: "-7d9f8", min: 1, max: maxHashLen},
		{name: "podinfo-", min: 1, max: maxHashLen},
		{name: "podinfo-7d9f8c6b5bb", min: 1, max: maxHashLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := trimSuffix(tt.name, tt.min, tt.max)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolve(t *testing.T) {
	idx, conflicts := buildIndex(
		[]CanaryConfig{
			{Namespace: "test", Name: "podinfo"},
			{Namespace: "test", Name: "agent-canary", Target: "agent"},
		},
		nil, StampConfig{})
	require.Empty(t, conflicts)

	tests := []struct {
		name  string
		attrs map[string]any
		role  string // empty: no match
		owner string
	}{
		{
			name:  "deployment canary",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.deployment.name": "podinfo"},
			role:  roleCanary, owner: "podinfo",
		},
		{
			name:  "deployment primary",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.deployment.name": "podinfo-primary"},
			role:  rolePrimary, owner: "podinfo",
		},
		{
			name:  "daemonset primary",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.daemonset.name": "agent-primary"},
			role:  rolePrimary, owner: "agent-canary",
		},
		{
			name: "deployment name decides over the label",
			attrs: map[string]any{
				"k8s.namespace.name": "test", "k8s.deployment.name": "frontend", "k8s.pod.label.app": "podinfo",
			},
		},
		{
			name:  "replicaset",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.replicaset.name": "podinfo-5c8bd7b9f4"},
			role:  roleCanary, owner: "podinfo",
		},
		{
			name: "replicaset without a hash falls through to the pod",
			attrs: map[string]any{
				"k8s.namespace.name": "test", "k8s.replicaset.name": "podinfo-primary",
				"k8s.pod.name": "podinfo-primary-5c8bd7b9f4-k2xq9",
			},
			role: rolePrimary, owner: "podinfo",
		},
		{
			name:  "daemonset pod",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.pod.name": "agent-primary-zz9x4"},
			role:  rolePrimary, owner: "agent-canary",
		},
		{
			name:  "pod of an unknown deployment",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.pod.name": "frontend-5c8bd7b9f4-k2xq9"},
		},
		{
			name:  "label name",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.pod.label.name": "podinfo-primary"},
			role:  rolePrimary, owner: "podinfo",
		},
		{
			name:  "label app.kubernetes.io/name",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.pod.label.app.kubernetes.io/name": "podinfo"},
			role:  roleCanary, owner: "podinfo",
		},
		{
			name:  "other namespace",
			attrs: map[string]any{"k8s.namespace.name": "prod", "k8s.deployment.name": "podinfo"},
		},
		{
			name:  "no namespace",
			attrs: map[string]any{"k8s.deployment.name": "podinfo"},
		},
		{
			name:  "non-string values are ignored",
			attrs: map[string]any{"k8s.namespace.name": "test", "k8s.deployment.name": int64(3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := pcommon.NewMap()
			require.NoError(t, m.FromRaw(tt.attrs))
			w := readWorkloadAttrs(m)
			s := resolve(idx, &w)
			if tt.role == "" {
				assert.Nil(t, s)
				return
			}
			require.NotNil(t, s)
			assert.Equal(t, tt.role, s.role)
			assert.Equal(t, tt.owner, s.canary)
		})
	}
}

func TestBuildIndex(t *testing.T) {
	learned := map[string]*kube.Canary{
		// Learned from the API: replaces the static entry of the same name.
		"test/podinfo": {
			Namespace: "test", Name: "podinfo", TargetName: "podinfo-v2",
			HasStatus: true, Weight: 30, Phase: "Progressing", Revision: "abc",
		},
		// Claims the workload of test/alpha, which comes first in key order.
		"test/beta": {Namespace: "test", Name: "beta", TargetName: "shared"},
		// No target yet: nothing to match.
		"test/empty": {Namespace: "test", Name: "empty"},
	}
	static := []CanaryConfig{
		{Namespace: "test", Name: "podinfo"},
		{Namespace: "test", Name: "alpha", Target: "shared"},
	}
	idx, conflicts := buildIndex(static, learned, StampConfig{Weight: true, Revision: true})

	assert.Nil(t, idx.lookup("test", "podinfo"), "the learned target wins over the static default")
	canary := idx.lookup("test", "podinfo-v2")
	require.NotNil(t, canary)
	assert.Equal(t, stamp{role: roleCanary, canary: "podinfo", hasWeight: true, weight: 30, revision: "abc"}, *canary)
	primary := idx.lookup("test", "podinfo-v2-primary")
	require.NotNil(t, primary)
	assert.Equal(t, stamp{role: rolePrimary, canary: "podinfo", hasWeight: true, weight: 70, revision: "abc"}, *primary)

	shared := idx.lookup("test", "shared")
	require.NotNil(t, shared)
	assert.Equal(t, "alpha", shared.canary)
	assert.ElementsMatch(t, []conflict{
		{workload: workloadKey{"test", "shared"}, kept: "test/alpha", dropped: "test/beta"},
		{workload: workloadKey{"test", "shared-primary"}, kept: "test/alpha", dropped: "test/beta"},
	}, conflicts)

	assert.Len(t, idx.workloads, 4)
}
