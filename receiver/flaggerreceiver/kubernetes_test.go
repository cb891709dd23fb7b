package flaggerreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

const waitFor, tick = 10 * time.Second, 10 * time.Millisecond

// fakeCluster is a client-go fake API holding Canaries and Events.
type fakeCluster struct {
	dyn  *dynamicfake.FakeDynamicClient
	core *kubefake.Clientset
}

func newFakeCluster(objects ...runtime.Object) *fakeCluster {
	scheme := runtime.NewScheme()
	listKinds := map[schema.GroupVersionResource]string{kube.CanaryGVR: "CanaryList"}
	return &fakeCluster{
		dyn:  dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, listKinds, objects...),
		core: kubefake.NewClientset(),
	}
}

func (f *fakeCluster) clients(kube.APIConfig) (kube.Clients, error) {
	return kube.Clients{Dynamic: f.dyn, Core: f.core}, nil
}

func (f *fakeCluster) apply(t *testing.T, c *shortCanary) {
	t.Helper()
	obj := c.object()
	res := f.dyn.Resource(kube.CanaryGVR).Namespace(obj.GetNamespace())
	_, err := res.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
	if err != nil {
		_, err = res.Create(context.Background(), obj, metav1.CreateOptions{})
	} else {
		_, err = res.Update(context.Background(), obj, metav1.UpdateOptions{})
	}
	require.NoError(t, err)
}

// startK8s starts a Kubernetes-source receiver on the fake cluster.
func startK8s(t *testing.T, f *fakeCluster, edit func(*Config), host component.Host) (*flaggerReceiver, *consumertest.LogsSink, *consumertest.MetricsSink) {
	t.Helper()
	cfg := scenarioConfig("kubernetes")
	cfg.MetricsInterval = 50 * time.Millisecond
	if edit != nil {
		edit(cfg)
	}
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, t.Name())
	r, err := newReceiver(set, cfg)
	require.NoError(t, err)
	r.newClients = f.clients
	logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
	r.setLogs(logs)
	r.setMetrics(metrics)
	if host == nil {
		host = extensionsHost{}
	}
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r, logs, metrics
}

// records lists "event.name body" of every record received so far.
func records(sink *consumertest.LogsSink) []string {
	var out []string
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k).EventName()+" "+lrs.At(k).Body().Str())
				}
			}
		}
	}
	return out
}

func TestKubernetesSourceFollowsCanaries(t *testing.T) {
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	before := &shortCanary{Created: created, Phase: "Succeeded", Revision: "r1", LastTransitionTime: created}
	f := newFakeCluster(before.object())
	r, logs, metrics := startK8s(t, f, nil, nil)

	// The Canary as it was before the start is not reported; its metrics are.
	require.Eventually(t, func() bool { return metrics.DataPointCount() > 0 }, waitFor, tick)
	require.Empty(t, records(logs))

	now := time.Now().UTC().Truncate(time.Second)
	f.apply(t, &shortCanary{Created: created, Phase: "Progressing", Weight: 10, Revision: "r2", LastTransitionTime: now})
	require.Eventually(t, func() bool { return len(records(logs)) == 1 }, waitFor, tick)
	require.Equal(t, "flagger.canary.phase_change Canary test/podinfo: Succeeded -> Progressing, weight 10%, failed checks 0, iterations 0, revision r2", records(logs)[0])

	// A rewrite that changes nothing reaches the informer and produces nothing.
	f.apply(t, &shortCanary{Created: created, Phase: "Progressing", Weight: 10, Revision: "r2", LastTransitionTime: now})
	ev := (&shortEvent{UID: "e1", Message: "Advance podinfo.test canary weight 10", Count: 1, Last: now}).object()
	_, err := f.core.CoreV1().Events("test").Create(context.Background(), ev, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(records(logs)) == 2 }, waitFor, tick)
	require.Equal(t, "flagger.canary.event Advance podinfo.test canary weight 10", records(logs)[1])

	// Deleted: the series stop.
	require.NoError(t, f.dyn.Resource(kube.CanaryGVR).Namespace("test").Delete(context.Background(), "podinfo", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.tracker.state("test", "podinfo") == nil
	}, waitFor, tick)
	metrics.Reset()
	require.Never(t, func() bool { return metrics.DataPointCount() > 0 }, 300*time.Millisecond, tick)
	require.Len(t, records(logs), 2)
}

func TestCheckpointNeitherRepeatsNorSkips(t *testing.T) {
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	t1 := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	f := newFakeCluster((&shortCanary{Created: created, Phase: "Progressing", Weight: 10, Revision: "r2", LastTransitionTime: t1}).object())
	storageID := component.MustNewID("file_storage")
	host := extensionsHost{extensions: map[component.ID]component.Component{
		storageID: storagetest.NewFileBackedStorageExtension("file", t.TempDir()),
	}}
	withStorage := func(cfg *Config) { cfg.Storage = &storageID }

	// First run: the canary was known before the start, so it is the baseline.
	r1, logs1, _ := startK8s(t, f, withStorage, host)
	require.Eventually(t, func() bool {
		r1.mu.Lock()
		defer r1.mu.Unlock()
		return r1.tracker.state("test", "podinfo") != nil
	}, waitFor, tick)
	t2 := time.Now().UTC().Truncate(time.Second)
	f.apply(t, &shortCanary{Created: created, Phase: "Progressing", Weight: 20, Revision: "r2", LastTransitionTime: t2})
	require.Eventually(t, func() bool { return len(records(logs1)) == 1 }, waitFor, tick)
	require.NoError(t, r1.Shutdown(context.Background()))

	// While the collector is down, the canary moves on.
	f.apply(t, &shortCanary{Created: created, Phase: "Promoting", Weight: 20, Iterations: 3, Revision: "r2", LastTransitionTime: t2.Add(time.Second)})

	// Second run on the same storage: the change made meanwhile is reported once, from the
	// state the first run reported last; nothing of the first run is repeated.
	_, logs2, _ := startK8s(t, f, withStorage, host)
	require.Eventually(t, func() bool { return len(records(logs2)) == 1 }, waitFor, tick)
	require.Equal(t, "flagger.canary.phase_change Canary test/podinfo: Progressing -> Promoting, weight 20%, failed checks 0, iterations 3, revision r2", records(logs2)[0])
}

func TestLeaderElectionOneStream(t *testing.T) {
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	f := newFakeCluster((&shortCanary{Created: created, Phase: "Succeeded", Revision: "r1", LastTransitionTime: created}).object())
	withLease := func(cfg *Config) {
		k := cfg.Kubernetes.Get()
		k.LeaderElection = configoptional.Some(LeaderElectionConfig{
			LeaseName: "otelcol-flagger", LeaseNamespace: "flagger-system",
			LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond,
		})
	}
	r1, logs1, metrics1 := startK8s(t, f, withLease, nil)
	r2, logs2, metrics2 := startK8s(t, f, withLease, nil)
	require.Eventually(t, func() bool { return r1.leading.Load() || r2.leading.Load() }, waitFor, tick)
	// Give the leader time to list the canary before it changes.
	require.Eventually(t, func() bool { return metrics1.DataPointCount()+metrics2.DataPointCount() > 0 }, waitFor, tick)
	require.False(t, r1.leading.Load() && r2.leading.Load(), "both replicas lead")

	now := time.Now().UTC().Truncate(time.Second)
	f.apply(t, &shortCanary{Created: created, Phase: "Progressing", Revision: "r2", LastTransitionTime: now})
	require.Eventually(t, func() bool { return len(records(logs1))+len(records(logs2)) == 1 }, waitFor, tick)
	follower := metrics2
	if r2.leading.Load() {
		follower = metrics1
	}
	require.Zero(t, follower.DataPointCount(), "the standby replica emitted metrics")
	require.Never(t, func() bool { return len(records(logs1))+len(records(logs2)) > 1 }, 500*time.Millisecond, tick)
}

func TestDeduplicatorWebhookFirst(t *testing.T) {
	var got []*flaggerEvent
	emitted := make(chan struct{}, 4)
	d := newDeduplicator(5*time.Second, func(ev *flaggerEvent) error {
		got = append(got, ev)
		emitted <- struct{}{}
		return nil
	}, func() {})
	at := time.Date(2026, 1, 1, 10, 0, 1, 412e6, time.UTC)
	hook := &flaggerEvent{Namespace: "test", Name: "podinfo", Message: "m", Type: "Normal", Time: at, Source: sourceWebhook, Revision: "c0ffee"}
	k8s := &flaggerEvent{Namespace: "test", Name: "podinfo", Message: "m", Type: "Normal", Time: at.Truncate(time.Second), Count: 1, Source: sourceKubernetes, Revision: "r2", Phase: "Progressing"}

	done := make(chan error)
	go func() { done <- d.fromWebhook(context.Background(), hook) }()
	// The Kubernetes copy arrives while the webhook request waits for it.
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.byKey) == 1
	}, waitFor, tick)
	d.fromKubernetes(k8s)
	require.NoError(t, <-done)
	<-emitted
	require.Len(t, got, 1)
	require.Equal(t, sourceBoth, got[0].Source)
	require.Equal(t, "r2", got[0].Revision)
	require.EqualValues(t, 1, got[0].Count)

	d.stop()
}

func TestDeduplicatorLateCopy(t *testing.T) {
	var got []*flaggerEvent
	d := newDeduplicator(20*time.Millisecond, func(ev *flaggerEvent) error {
		got = append(got, ev)
		return nil
	}, func() {})
	at := time.Date(2026, 1, 1, 10, 0, 1, 412e6, time.UTC)
	// Nothing came from the API in time: the webhook copy is emitted alone.
	require.NoError(t, d.fromWebhook(context.Background(), &flaggerEvent{
		Namespace: "test", Name: "podinfo", Message: "m", Time: at, Source: sourceWebhook,
	}))
	// The API's copy arrives late, after a relist say, and is dropped.
	d.fromKubernetes(&flaggerEvent{Namespace: "test", Name: "podinfo", Message: "m", Time: at.Truncate(time.Second), Source: sourceKubernetes})
	// The same message a minute later is another event.
	d.fromKubernetes(&flaggerEvent{Namespace: "test", Name: "podinfo", Message: "m", Time: at.Add(time.Minute), Source: sourceKubernetes})
	d.stop()
	require.Len(t, got, 2)
	require.Equal(t, sourceWebhook, got[0].Source)
	require.Equal(t, sourceKubernetes, got[1].Source)
	require.Equal(t, at.Add(time.Minute), got[1].Time)
}
