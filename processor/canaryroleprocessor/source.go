package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

// clientFunc builds the dynamic client; tests replace it with a fake.
type clientFunc func(kube.APIConfig) (dynamic.Interface, error)

func newDynamicClient(api kube.APIConfig) (dynamic.Interface, error) {
	clients, err := api.NewClients()
	if err != nil {
		return nil, err
	}
	return clients.Dynamic, nil
}

// source keeps the index of canaries for one component ID. The processors of that ID in
// every pipeline share it, so the Canaries are watched once.
type source struct {
	id        component.ID
	static    []CanaryConfig
	stampOpts StampConfig
	k8s       *KubernetesConfig
	newClient clientFunc
	// syncTimeout bounds how long Start waits for the first list of Canaries.
	syncTimeout time.Duration
	logger      *zap.Logger
	telemetry   *metadata.TelemetryBuilder

	registry *registry

	// current is read on the hot path and swapped whole when the Canaries change.
	current atomic.Pointer[index]

	// running tracks the informers and the goroutine that waits for a late first sync.
	running sync.WaitGroup

	// mu guards the fields below and serialises rebuilds.
	mu      sync.Mutex
	refs    int
	started bool
	learned map[string]*kube.Canary
	cancel  context.CancelFunc
}

func (s *source) rebuildLocked() {
	idx, conflicts := buildIndex(s.static, s.learned, s.stampOpts)
	for _, c := range conflicts {
		s.logger.Debug("workload claimed by two canaries; keeping the first",
			zap.String("namespace", c.workload.namespace),
			zap.String("workload", c.workload.name),
			zap.String("kept", c.kept),
			zap.String("dropped", c.dropped))
	}
	s.current.Store(idx)
}

// start starts the watch on the first call; later calls only return. The lock is not held
// while waiting for the first list, so the handlers can update the index meanwhile.
func (s *source) start(ctx context.Context, host component.Host) error {
	runCtx, synced, err := s.startInformers(host)
	if err != nil || synced == nil {
		return err
	}

	waitCtx, waitCancel := context.WithTimeout(ctx, s.syncTimeout)
	defer waitCancel()
	if cache.WaitForCacheSync(waitCtx.Done(), synced...) {
		s.logger.Info("canaries synced from the kubernetes api")
		return nil
	}

	// An API server that cannot be reached now may be reachable later: the informers keep
	// retrying, and the static canaries are served meanwhile.
	err = errors.New("canaries not synced from the kubernetes api yet; retrying")
	s.logger.Warn("canaries not synced; continuing with the static canaries",
		zap.Duration("sync_timeout", s.syncTimeout))
	componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
	s.running.Go(func() {
		if cache.WaitForCacheSync(runCtx.Done(), synced...) {
			s.logger.Info("canaries synced from the kubernetes api")
			componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
		}
	})
	return nil
}

// startInformers creates and runs the informers once. It returns no synced functions when
// there is nothing to wait for: the source is static or already started.
//
// Note: after the first successful list, watch errors are only logged at debug level and
// the component status stays OK; the informers keep retrying and the index keeps its last
// known state, which may then be stale.
func (s *source) startInformers(host component.Host) (context.Context, []cache.InformerSynced, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.k8s == nil {
		return nil, nil, nil
	}
	client, err := s.newClient(s.k8s.API)
	if err != nil {
		err = fmt.Errorf("failed to create the kubernetes client: %w", err)
		componentstatus.ReportStatus(host, componentstatus.NewPermanentErrorEvent(err))
		return nil, nil, err
	}
	s.started = true

	informers := kube.NewCanaryInformers(client, s.k8s.Namespaces, 0)
	synced := make([]cache.InformerSynced, 0, len(informers))
	for _, inf := range informers {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    s.onUpsert,
			UpdateFunc: func(_, obj any) { s.onUpsert(obj) },
			DeleteFunc: s.onDelete,
		}); err != nil {
			return nil, nil, fmt.Errorf("failed to register the canary handler: %w", err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			s.logger.Debug("canary watch failed; retrying", zap.Error(err))
		})
		synced = append(synced, inf.HasSynced)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, inf := range informers {
		s.running.Go(func() { inf.RunWithContext(runCtx) })
	}
	return runCtx, synced, nil
}

func (s *source) onUpsert(obj any) {
	u, ok := kube.Unwrap(obj)
	if !ok {
		s.malformed(fmt.Errorf("unexpected object of type %T", obj))
		return
	}
	c, err := kube.CanaryFromUnstructured(u)
	if err != nil {
		s.malformed(err)
		if c == nil {
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, found := s.learned[c.Key()]; found && sameStamps(prev, c) {
		return
	}
	s.learned[c.Key()] = c
	s.logger.Debug("canary updated",
		zap.String("canary", c.Key()),
		zap.String("target", c.TargetName),
		zap.String("phase", c.Phase),
		zap.Int64("weight", c.Weight))
	s.rebuildLocked()
}

func (s *source) onDelete(obj any) {
	u, ok := kube.Unwrap(obj)
	if !ok {
		s.malformed(fmt.Errorf("unexpected deleted object of type %T", obj))
		return
	}
	key := u.GetNamespace() + "/" + u.GetName()

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, found := s.learned[key]; !found {
		return
	}
	delete(s.learned, key)
	s.logger.Debug("canary deleted", zap.String("canary", key))
	s.rebuildLocked()
}

func (s *source) malformed(err error) {
	s.telemetry.ProcessorCanaryroleMalformedCanaries.Add(context.Background(), 1)
	s.logger.Debug("canary could not be read in full", zap.Error(err))
}

// sameStamps reports whether two versions of a Canary stamp the same values, so resyncs
// and status changes nothing reads do not rebuild the index.
func sameStamps(a, b *kube.Canary) bool {
	return a.TargetName == b.TargetName &&
		a.HasStatus == b.HasStatus &&
		a.Weight == b.Weight &&
		a.Phase == b.Phase &&
		a.Revision == b.Revision
}

// release drops one processor's reference; the last one stops the watch.
func (s *source) release() {
	if !s.registry.drop(s) {
		return
	}
	s.mu.Lock()
	cancel := s.cancel
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.running.Wait()
}

// registry holds the source of each component ID while processors use it.
type registry struct {
	mu      sync.Mutex
	sources map[component.ID]*source
}

var sources = &registry{sources: map[component.ID]*source{}}

// acquire returns the source of the ID, creating it on first use.
func (r *registry) acquire(id component.ID, create func() *source) *source {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, found := r.sources[id]
	if !found {
		s = create()
		s.registry = r
		r.sources[id] = s
	}
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
	return s
}

// drop removes one reference to the source and reports whether it was the last. The last
// one also takes the source out of the registry, so the next processor gets a fresh one.
func (r *registry) drop(s *source) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if last && r.sources[s.id] == s {
		delete(r.sources, s.id)
	}
	return last
}
