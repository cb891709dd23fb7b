package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

const (
	// resyncPeriod re-delivers every cached object now and then; a change the pipeline
	// refused earlier is reported again then.
	resyncPeriod = 5 * time.Minute
	// syncTimeout bounds how long the source waits for its first list before it reports
	// the API server as unavailable (and keeps trying).
	syncTimeout = 30 * time.Second
	// canaryEventSelector keeps the Events informer to Events about Canaries.
	canaryEventSelector = "involvedObject.kind=Canary"
)

// kubernetesSource watches Canaries and, when enabled, their Events.
type kubernetesSource struct {
	r       *flaggerReceiver
	cfg     *KubernetesConfig
	clients kube.Clients

	// degraded is set while the last watch attempt failed.
	mu       sync.Mutex
	degraded bool
}

func newKubernetesSource(r *flaggerReceiver, cfg *KubernetesConfig, clients kube.Clients) *kubernetesSource {
	return &kubernetesSource{r: r, cfg: cfg, clients: clients}
}

// run watches until ctx ends. With leader election it watches only while it leads.
func (k *kubernetesSource) run(ctx context.Context) {
	if !k.cfg.LeaderElection.HasValue() {
		k.watch(ctx)
		return
	}
	le := k.cfg.LeaderElection.Get()
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "otelcol-flagger"
	}
	// Unique per receiver, so two collectors on one host (or two tests) never share it.
	identity := host + "_" + string(uuid.NewUUID())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: le.LeaseName, Namespace: le.LeaseNamespace},
		Client:     k.clients.Core.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	// othersLed is set when another replica held the lease since this one last led: what
	// this replica knows is then out of date, and what happened meanwhile was theirs to report.
	var othersLed atomic.Bool
	othersLed.Store(true)
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   le.LeaseDuration,
			RenewDeadline:   le.RenewDeadline,
			RetryPeriod:     le.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            le.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leading context.Context) {
					k.r.logger.Info("Leading: emitting", zap.String("identity", identity))
					if othersLed.Swap(false) {
						k.r.takeOver()
					}
					k.r.leading.Store(true)
					k.watch(leading)
				},
				OnNewLeader: func(leader string) {
					if leader != identity {
						othersLed.Store(true)
					}
				},
				OnStoppedLeading: func() {
					k.r.logger.Info("No longer leading: standing by", zap.String("identity", identity))
					k.r.leading.Store(false)
				},
			},
		})
	}
}

// watch runs the informers until ctx ends.
func (k *kubernetesSource) watch(ctx context.Context) {
	canaries := kube.NewCanaryInformers(k.clients.Dynamic, k.cfg.Namespaces, resyncPeriod)
	synced := make([]cache.InformerSynced, 0, len(canaries))
	for _, inf := range canaries {
		k.setErrorHandler(inf, "canaries")
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    k.onCanary,
			UpdateFunc: func(oldObj, newObj any) { k.onCanaryUpdate(oldObj, newObj) },
			DeleteFunc: k.onCanaryDelete,
		})
		if err != nil {
			k.r.reportError(fmt.Errorf("failed to watch canaries: %w", err))
			return
		}
		synced = append(synced, reg.HasSynced)
		go inf.RunWithContext(ctx)
	}
	k.waitForSync(ctx, "canaries", synced)
	if ctx.Err() != nil || !k.cfg.Events {
		<-ctx.Done()
		return
	}

	// Events start once Canaries are known, so each event finds its Canary's phase.
	synced = synced[:0]
	for _, inf := range k.eventInformers() {
		k.setErrorHandler(inf, "events")
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    k.onEvent,
			UpdateFunc: func(_, newObj any) { k.onEvent(newObj) },
			DeleteFunc: k.onEventDelete,
		})
		if err != nil {
			k.r.reportError(fmt.Errorf("failed to watch events: %w", err))
			return
		}
		synced = append(synced, reg.HasSynced)
		go inf.RunWithContext(ctx)
	}
	k.waitForSync(ctx, "events", synced)
	<-ctx.Done()
}

func (k *kubernetesSource) eventInformers() []cache.SharedIndexInformer {
	namespaces := k.cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	out := make([]cache.SharedIndexInformer, 0, len(namespaces))
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(k.clients.Core, resyncPeriod,
			informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = canaryEventSelector
			}),
			informers.WithTransform(kube.StripForCache),
		)
		out = append(out, f.Core().V1().Events().Informer())
	}
	return out
}

// waitForSync reports whether the first list arrived in time. Informers keep retrying
// with backoff either way.
func (k *kubernetesSource) waitForSync(ctx context.Context, what string, synced []cache.InformerSynced) {
	for ctx.Err() == nil {
		waitCtx, cancel := context.WithTimeout(ctx, syncTimeout)
		ok := cache.WaitForCacheSync(waitCtx.Done(), synced...)
		cancel()
		if ok {
			k.r.logger.Info("Watching", zap.String("resource", what))
			k.markHealthy()
			return
		}
		if ctx.Err() == nil {
			k.r.reportError(fmt.Errorf("%s not listed within %s; retrying", what, syncTimeout))
		}
	}
}

func (k *kubernetesSource) setErrorHandler(inf cache.SharedIndexInformer, what string) {
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		k.mu.Lock()
		k.degraded = true
		k.mu.Unlock()
		k.r.reportError(fmt.Errorf("watching %s failed, retrying with backoff: %w", what, err))
	})
}

// markHealthy reports the source as working again after a failure.
func (k *kubernetesSource) markHealthy() {
	k.mu.Lock()
	wasDegraded := k.degraded
	k.degraded = false
	k.mu.Unlock()
	if wasDegraded {
		k.r.logger.Info("Kubernetes watch recovered")
	}
	k.r.reportStatus(componentstatus.NewEvent(componentstatus.StatusOK))
}

func (k *kubernetesSource) onCanary(obj any) {
	u, ok := kube.Unwrap(obj)
	if !ok {
		k.r.malformed("canary", fmt.Errorf("unexpected object %T", obj))
		return
	}
	c, err := kube.CanaryFromUnstructured(u)
	if c == nil {
		k.r.malformed("canary", err)
		return
	}
	if err != nil {
		k.r.malformed("canary", err)
	}
	switch {
	case !c.HasStatus:
		k.r.malformed("canary", fmt.Errorf("canary %s has no status yet", c.Key()))
	case !isKnownPhase(c.Phase):
		k.r.malformed("canary", fmt.Errorf("canary %s has unknown phase %q", c.Key(), c.Phase))
	}
	k.maybeHealthy()
	k.r.onCanary(c)
}

func (k *kubernetesSource) onCanaryUpdate(oldObj, newObj any) {
	oldU, okOld := kube.Unwrap(oldObj)
	newU, okNew := kube.Unwrap(newObj)
	if okOld && okNew && oldU.GetResourceVersion() == newU.GetResourceVersion() {
		// A resync: nothing new, but a change the pipeline refused earlier goes again.
		if c, _ := kube.CanaryFromUnstructured(newU); c != nil {
			k.r.onCanary(c)
		}
		return
	}
	k.onCanary(newObj)
}

func (k *kubernetesSource) onCanaryDelete(obj any) {
	u, ok := kube.Unwrap(obj)
	if !ok {
		k.r.malformed("canary", fmt.Errorf("unexpected deleted object %T", obj))
		return
	}
	k.r.onCanaryDeleted(u.GetNamespace() + "/" + u.GetName())
}

func (k *kubernetesSource) maybeHealthy() {
	k.mu.Lock()
	degraded := k.degraded
	k.mu.Unlock()
	if degraded {
		k.markHealthy()
	}
}

func (k *kubernetesSource) onEvent(obj any) {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		k.r.malformed("event", fmt.Errorf("unexpected object %T", obj))
		return
	}
	k.maybeHealthy()
	if ev.InvolvedObject.Name == "" || ev.Message == "" {
		k.r.malformed("event", fmt.Errorf("event %s/%s names no canary or has no message", ev.Namespace, ev.Name))
		return
	}
	count := int64(ev.Count)
	if ev.Series != nil && int64(ev.Series.Count) > count {
		count = int64(ev.Series.Count)
	}
	count = max(count, 1)
	k.r.onKubernetesEvent(string(ev.UID), count, &flaggerEvent{
		Namespace: ev.InvolvedObject.Namespace,
		Name:      ev.InvolvedObject.Name,
		Message:   normaliseMessage(ev.Message),
		Type:      ev.Type,
		Time:      eventTime(ev),
		Count:     count,
		Source:    sourceKubernetes,
	})
}

func (k *kubernetesSource) onEventDelete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if ev, ok := obj.(*corev1.Event); ok {
		k.r.forgetEvent(string(ev.UID))
	}
}

// eventTime is when the latest occurrence of an Event happened.
func eventTime(ev *corev1.Event) time.Time {
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return ev.Series.LastObservedTime.UTC()
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.UTC()
	case !ev.EventTime.IsZero():
		return ev.EventTime.UTC()
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.UTC()
	}
	return ev.CreationTimestamp.UTC()
}

var errStopped = errors.New("receiver is shutting down")
