package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// RevisionAnnotation is the pod template annotation TriggerRevision changes.
const RevisionAnnotation = "e2e.otelcol-flagger.io/revision"

// CreateNamespace creates a namespace; one that exists already is fine.
func (c *Cluster) CreateNamespace(t testing.TB, name string) {
	t.Helper()

	_, err := c.Kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}

// CreatePodinfo creates a one-replica Deployment shaped like podinfo, with
// label app=<name> and its pods pinned to the fake node. kwok never pulls
// the image.
func (c *Cluster) CreatePodinfo(t testing.TB, namespace, name string) *appsv1.Deployment {
	t.Helper()

	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      labels,
					Annotations: map[string]string{RevisionAnnotation: "1"},
				},
				Spec: corev1.PodSpec{
					NodeName: FakeNodeName,
					Containers: []corev1.Container{{
						Name:  "podinfod",
						Image: "ghcr.io/stefanprodan/podinfo:6.0.0",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 9898}},
						Env: []corev1.EnvVar{{
							Name:  "OTEL_SERVICE_NAME",
							Value: name,
						}},
					}},
				},
			},
		},
	}

	created, err := c.Kube.AppsV1().Deployments(namespace).Create(t.Context(), d, metav1.CreateOptions{})
	require.NoError(t, err)

	return created
}

// TriggerRevision sets the pod template's revision annotation, which
// Flagger sees as a new revision of the target.
func (c *Cluster) TriggerRevision(t testing.TB, namespace, name, revision string) {
	t.Helper()

	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
		RevisionAnnotation, revision)
	_, err := c.Kube.AppsV1().Deployments(namespace).Patch(t.Context(), name,
		types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

// WaitForPod waits until exactly one running pod carries the label
// app=<app> and returns its name. Flagger labels the primary's pods
// app=<target>-primary.
func (c *Cluster) WaitForPod(t testing.TB, namespace, app string) string {
	t.Helper()

	var name string
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		pods, err := c.Kube.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{
			LabelSelector: "app=" + app,
		})
		if !assert.NoError(ct, err) {
			return
		}

		var running []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				running = append(running, p.Name)
			}
		}
		if assert.Len(ct, running, 1, "running pods with app=%s", app) {
			name = running[0]
		}
	}, 2*time.Minute, 250*time.Millisecond)

	return name
}
