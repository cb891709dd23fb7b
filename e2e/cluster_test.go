package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/webhook"
)

const (
	testNamespace = "test"
	appName       = "podinfo"
)

// TestRolloutSucceeds drives a blue/green rollout to Succeeded and checks the
// event webhooks Flagger sends on the way.
func TestRolloutSucceeds(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	events := webhook.NewServer(t, http.StatusOK)
	c := cluster.Start(t, cluster.Options{EventWebhookURL: events.URL})

	c.CreateNamespace(t, testNamespace)
	c.CreatePodinfo(t, testNamespace, appName)
	c.CreateCanary(t, cluster.CanarySpec{Namespace: testNamespace, Name: appName})
	phases := c.WatchCanaryPhases(t, testNamespace, appName)

	phases.WaitFor(t, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	initialized, err := c.GetCanary(t.Context(), testNamespace, appName)
	require.NoError(t, err)

	start := time.Now()
	mark := phases.Mark()
	c.TriggerRevision(t, testNamespace, appName, "2")
	phases.WaitForAfter(t, mark, flaggerv1.CanaryPhaseSucceeded, 3*time.Minute)
	t.Logf("rollout succeeded in %s", time.Since(start).Round(time.Second))

	requireInOrder(t, phases.Phases(), []flaggerv1.CanaryPhase{
		flaggerv1.CanaryPhaseInitialized,
		flaggerv1.CanaryPhaseProgressing,
		flaggerv1.CanaryPhasePromoting,
		flaggerv1.CanaryPhaseFinalising,
		flaggerv1.CanaryPhaseSucceeded,
	}, "phases seen: %s", phases)

	succeeded, err := c.GetCanary(t.Context(), testNamespace, appName)
	require.NoError(t, err)
	assert.NotEqual(t, initialized.Status.LastAppliedSpec, succeeded.Status.LastAppliedSpec)
	assert.Equal(t, succeeded.Status.LastAppliedSpec, succeeded.Status.LastPromotedSpec)

	primary, err := c.Kube.AppsV1().Deployments(testNamespace).Get(t.Context(), appName+"-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "2", primary.Spec.Template.Annotations[cluster.RevisionAnnotation])

	requireEventPayloads(t, events, start)
	assertEventSeen(t, events, flaggerv1.CanaryPhaseProgressing, "New revision detected")
	// Flagger reports the promotion while the canary is still Finalising.
	assertEventSeen(t, events, flaggerv1.CanaryPhaseFinalising, "Promotion completed")
}

// TestRolloutFails drives a rollout to Failed with a rollout webhook that
// answers 500.
func TestRolloutFails(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	events := webhook.NewServer(t, http.StatusOK)
	hook := webhook.NewServer(t, http.StatusInternalServerError)
	c := cluster.Start(t, cluster.Options{EventWebhookURL: events.URL})

	c.CreateNamespace(t, testNamespace)
	c.CreatePodinfo(t, testNamespace, appName)
	c.CreateCanary(t, cluster.CanarySpec{
		Namespace: testNamespace,
		Name:      appName,
		Webhooks: []cluster.Webhook{{
			Name: "acceptance",
			Type: flaggerv1.RolloutHook,
			URL:  hook.URL,
		}},
	})
	phases := c.WatchCanaryPhases(t, testNamespace, appName)

	phases.WaitFor(t, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)

	start := time.Now()
	mark := phases.Mark()
	c.TriggerRevision(t, testNamespace, appName, "2")
	phases.WaitForAfter(t, mark, flaggerv1.CanaryPhaseFailed, 3*time.Minute)
	t.Logf("rollout failed in %s", time.Since(start).Round(time.Second))

	requireInOrder(t, phases.Phases(), []flaggerv1.CanaryPhase{
		flaggerv1.CanaryPhaseInitialized,
		flaggerv1.CanaryPhaseProgressing,
		flaggerv1.CanaryPhaseFailed,
	}, "phases seen: %s", phases)
	assert.NotContains(t, phases.Phases(), flaggerv1.CanaryPhasePromoting)

	calls := hook.Requests()
	require.NotEmpty(t, calls, "the rollout webhook was never called")
	for _, call := range calls {
		require.NoError(t, call.DecodeErr, "body %s", call.Body)
		assert.Equal(t, appName, call.Payload.Name)
		assert.Equal(t, testNamespace, call.Payload.Namespace)
		assert.Equal(t, flaggerv1.CanaryPhaseProgressing, call.Payload.Phase)
		assert.NotContains(t, call.Payload.Metadata, "eventMessage")
	}

	primary, err := c.Kube.AppsV1().Deployments(testNamespace).Get(t.Context(), appName+"-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", primary.Spec.Template.Annotations[cluster.RevisionAnnotation],
		"the failed revision must not reach the primary")

	requireEventPayloads(t, events, start)
	assertEventSeen(t, events, flaggerv1.CanaryPhaseProgressing, "Rolling back")
	assertEventSeen(t, events, flaggerv1.CanaryPhaseFailed, "Canary failed")
}

// TestAPIServerRestart checks that the cluster serves again after its API
// server restarts and that the controllers pick up where they were.
func TestAPIServerRestart(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	c := cluster.Start(t, cluster.Options{})
	c.CreateNamespace(t, testNamespace)
	c.CreatePodinfo(t, testNamespace, appName)

	start := time.Now()
	c.RestartAPIServer(t)
	t.Logf("api server restarted in %s", time.Since(start).Round(100*time.Millisecond))

	_, err := c.Kube.AppsV1().Deployments(testNamespace).Get(t.Context(), appName, metav1.GetOptions{})
	require.NoError(t, err)

	c.CreatePodinfo(t, testNamespace, "after-restart")
	require.Eventually(t, func() bool {
		d, err := c.Kube.AppsV1().Deployments(testNamespace).Get(t.Context(), "after-restart", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 1
	}, time.Minute, 250*time.Millisecond, "a deployment created after the restart never became ready")
}

// requireEventPayloads checks the shape of every event webhook Flagger sent
// and logs them.
func requireEventPayloads(t *testing.T, events *webhook.Server, since time.Time) {
	t.Helper()

	reqs := events.Requests()
	require.NotEmpty(t, reqs, "no event webhook received")

	for _, req := range reqs {
		require.NoError(t, req.DecodeErr, "body %s", req.Body)

		p := req.Payload
		t.Logf("event webhook: phase=%s type=%s checksum=%s message=%q",
			p.Phase, p.Metadata["eventType"], p.Checksum, p.Metadata["eventMessage"])

		assert.Equal(t, appName, p.Name)
		assert.Equal(t, testNamespace, p.Namespace)
		assert.NotEmpty(t, p.Phase)
		assert.NotEmpty(t, p.Checksum)
		assert.NotEmpty(t, p.Metadata["eventMessage"])
		assert.Contains(t, []string{"Normal", "Warning"}, p.Metadata["eventType"])

		ms, err := strconv.ParseInt(p.Metadata["timestamp"], 10, 64)
		if assert.NoError(t, err, "timestamp %q is not Unix milliseconds", p.Metadata["timestamp"]) {
			assert.WithinDuration(t, req.At, time.UnixMilli(ms), 10*time.Second)
		}
	}

	var afterTrigger int
	for _, req := range reqs {
		if req.At.After(since) {
			afterTrigger++
		}
	}
	assert.Positive(t, afterTrigger, "no event webhook after the new revision")
}

// assertEventSeen checks that an event webhook for phase carried a message
// containing text.
func assertEventSeen(t *testing.T, events *webhook.Server, phase flaggerv1.CanaryPhase, text string) {
	t.Helper()

	for _, req := range events.Requests() {
		if req.Payload.Phase == phase && strings.Contains(req.Payload.Metadata["eventMessage"], text) {
			return
		}
	}

	assert.Failf(t, "event webhook not seen", "no %s event containing %q", phase, text)
}

// requireInOrder checks that want appears in got in order, with any phases
// between.
func requireInOrder(t *testing.T, got, want []flaggerv1.CanaryPhase, msgAndArgs ...any) {
	t.Helper()

	i := 0
	for _, p := range got {
		if i < len(want) && p == want[i] {
			i++
		}
	}

	require.Equal(t, len(want), i, msgAndArgs...)
}

// TestCollectorIdentity checks that the ServiceAccount and RBAC shipped in
// configs/kubernetes let the collector read what it watches and nothing it
// should not.
func TestCollectorIdentity(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	c := cluster.Start(t, cluster.Options{})
	kubeconfig := c.ApplyCollectorIdentity(t)

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
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
	_, err = kube.AppsV1().Deployments(testNamespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nope"},
	}, metav1.CreateOptions{})
	require.True(t, apierrors.IsForbidden(err), "creating deployments must be forbidden, got %v", err)
}
