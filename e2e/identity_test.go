package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
)

// checkCollectorIdentity checks that the ServiceAccount and RBAC shipped in
// configs/kubernetes let the collector read what it watches and take its
// Lease, and nothing it should not. It leaves the Lease without a holder.
func checkCollectorIdentity(t *testing.T, e *env) {
	t.Helper()

	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	kube, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)

	ctx := t.Context()

	_, err = dyn.Resource(cluster.CanaryGVR).List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "list canaries in all namespaces")
	_, err = kube.CoreV1().Events("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "list events in all namespaces")
	_, err = kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err, "list pods in all namespaces")

	lease, err := kube.CoordinationV1().Leases(cluster.CollectorNamespace).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "otelcol-flagger"},
	}, metav1.CreateOptions{})
	require.NoError(t, err, "create the leader election lease")
	_, err = kube.CoordinationV1().Leases(cluster.CollectorNamespace).Update(ctx, lease, metav1.UpdateOptions{})
	require.NoError(t, err, "renew the leader election lease")

	_, err = kube.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	require.True(t, apierrors.IsForbidden(err), "listing secrets must be forbidden, got %v", err)
	_, err = kube.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nope"},
	}, metav1.CreateOptions{})
	require.True(t, apierrors.IsForbidden(err), "creating deployments must be forbidden, got %v", err)
}
