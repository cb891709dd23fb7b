package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

// Transports named in the receiver's own telemetry.
const (
	transportKubernetes = "kubernetes"
	transportHTTP       = "http"
	dataFormat          = "flagger"
)

// flaggerReceiver is one receiver instance, shared by the logs and metrics pipelines that
// name it.
type flaggerReceiver struct {
	settings  receiver.Settings
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	obsrecv   map[string]*receiverhelper.ObsReport
	startTime pcommon.Timestamp

	logs    consumer.Logs
	metrics consumer.Metrics

	// newClients builds the Kubernetes clients; tests replace it with fakes.
	newClients func(kube.APIConfig) (kube.Clients, error)
	// now is the clock; tests replace it.
	now func() time.Time

	// mu guards the tracker, the event counts and the metrics builder.
	mu       sync.Mutex
	tracker  *tracker
	events   map[string]int64
	mb       *metadata.MetricsBuilder
	restored bool

	// persistMu orders checkpoint writes.
	persistMu sync.Mutex
	storage   storage.Client

	// leading is true while this replica may emit.
	leading atomic.Bool
	dedup   *deduplicator
	host    component.Host
	server  *http.Server
	// webhookAddr is where the webhook listens once started.
	webhookAddr string
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	startOnce    sync.Once
	shutdownOnce sync.Once
}

func newReceiver(set receiver.Settings, cfg *Config) (*flaggerReceiver, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("failed to create telemetry: %w", err)
	}
	obsrecv := map[string]*receiverhelper.ObsReport{}
	for _, transport := range []string{transportKubernetes, transportHTTP} {
		obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
			ReceiverID:             set.ID,
			Transport:              transport,
			ReceiverCreateSettings: set,
		})
		if err != nil {
			return nil, fmt.Errorf("failed to create receiver telemetry: %w", err)
		}
		obsrecv[transport] = obs
	}
	now := time.Now()
	r := &flaggerReceiver{
		settings:   set,
		cfg:        cfg,
		logger:     set.Logger,
		telemetry:  tb,
		obsrecv:    obsrecv,
		startTime:  pcommon.NewTimestampFromTime(now),
		newClients: func(c kube.APIConfig) (kube.Clients, error) { return c.NewClients() },
		now:        time.Now,
		tracker:    newTracker(now, durationBounds),
		events:     map[string]int64{},
		mb:         metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set, metadata.WithStartTime(pcommon.NewTimestampFromTime(now))),
	}
	r.leading.Store(true)
	return r, nil
}

func (r *flaggerReceiver) setLogs(next consumer.Logs)       { r.logs = next }
func (r *flaggerReceiver) setMetrics(next consumer.Metrics) { r.metrics = next }

// Start opens the checkpoint, then starts the configured sources. An unreachable API
// server is reported as status and retried; it does not fail the start.
func (r *flaggerReceiver) Start(ctx context.Context, host component.Host) error {
	var err error
	r.startOnce.Do(func() { err = r.start(ctx, host) })
	return err
}

func (r *flaggerReceiver) start(ctx context.Context, host component.Host) error {
	r.host = host
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel

	if r.cfg.Storage != nil {
		client, err := openStorage(ctx, host, r.settings.ID, *r.cfg.Storage)
		if err != nil {
			return err
		}
		r.storage = client
		cp, err := loadCheckpoint(ctx, client)
		if err != nil {
			return err
		}
		if cp != nil {
			r.tracker.restore(cp.Canaries, cp.Written)
			for uid, n := range cp.Events {
				r.events[uid] = n
			}
			r.restored = true
			r.logger.Info("Restored checkpoint",
				zap.Int("canaries", len(cp.Canaries)), zap.Time("written", cp.Written))
		}
	}

	k8s := r.cfg.Kubernetes.Get()
	if r.cfg.Kubernetes.HasValue() && k8s.Events && r.cfg.Webhook.HasValue() {
		r.dedup = newDeduplicator(r.cfg.DedupWindow, func(ev *flaggerEvent) error {
			return r.emitEvent(context.Background(), ev)
		}, func() {
			r.telemetry.ReceiverFlaggerDuplicateEvents.Add(context.Background(), 1)
		})
	}

	if r.cfg.Webhook.HasValue() {
		if err := r.startWebhook(ctx, host); err != nil {
			return err
		}
	}

	if r.cfg.Kubernetes.HasValue() {
		clients, err := r.newClients(k8s.API)
		if err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		if k8s.LeaderElection.HasValue() {
			r.leading.Store(false)
		}
		src := newKubernetesSource(r, k8s, clients)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			src.run(runCtx)
		}()
	}

	if r.metrics != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.emitMetricsEvery(runCtx, r.cfg.MetricsInterval)
		}()
	}
	return nil
}

func (r *flaggerReceiver) startWebhook(ctx context.Context, host component.Host) error {
	wc := r.cfg.Webhook.Get()
	ln, err := wc.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("webhook: failed to listen on %s: %w", wc.ServerConfig.NetAddr.Endpoint, err)
	}
	handler := &webhookHandler{r: r, path: wc.Path}
	r.server, err = wc.ServerConfig.ToServer(ctx, host.GetExtensions(), r.settings.TelemetrySettings, handler)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("webhook: failed to create server: %w", err)
	}
	r.webhookAddr = ln.Addr().String()
	r.logger.Info("Webhook listening", zap.String("endpoint", r.webhookAddr), zap.String("path", wc.Path))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(fmt.Errorf("webhook: %w", err)))
		}
	}()
	return nil
}

// Shutdown stops the sources, emits what is still held and writes the checkpoint. It is
// safe without Start and safe twice.
func (r *flaggerReceiver) Shutdown(ctx context.Context) error {
	var errs []error
	r.shutdownOnce.Do(func() {
		if r.server != nil {
			if err := r.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("webhook: %w", err))
			}
		}
		if r.dedup != nil {
			r.dedup.stop()
		}
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
		if r.storage != nil {
			if err := r.persist(ctx); err != nil {
				errs = append(errs, err)
			}
			if err := r.storage.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("storage: %w", err))
			}
		}
		r.telemetry.Shutdown()
		shared.remove(r.settings.ID)
	})
	return errors.Join(errs...)
}

// takeOver starts a leadership term after another replica's: the state of the cluster now
// is taken as reported, unless a checkpoint says what was. A replica that takes the lease
// back without anyone else leading meanwhile keeps its state, so nothing of the gap is lost.
//
// Note: a change made while the lease passed from another replica to this one (up to
// lease_duration) is not reported, unless a checkpoint covers it.
func (r *flaggerReceiver) takeOver() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.restored {
		return
	}
	r.tracker.baseline = r.now().Truncate(time.Second)
	clear(r.tracker.states)
}

// onCanary reports a real change of a Canary, once.
func (r *flaggerReceiver) onCanary(c *kube.Canary) {
	now := r.now()
	r.mu.Lock()
	var before *canaryState
	if s := r.tracker.states[c.Key()]; s != nil {
		copied := *s
		before = &copied
	}
	change := r.tracker.observe(c, now)
	if change == nil {
		r.mu.Unlock()
		return
	}
	ld := r.phaseChangeLogs(change, now)
	r.mu.Unlock()

	if err := r.consumeLogs(context.Background(), ld, transportKubernetes); err != nil {
		// Forget the change, so the next delivery of the Canary (Flagger rewrites it every
		// interval, and the informer resyncs) reports it again.
		r.mu.Lock()
		if before != nil {
			r.tracker.states[c.Key()] = before
		} else {
			delete(r.tracker.states, c.Key())
		}
		r.mu.Unlock()
		r.logger.Warn("Pipeline refused a canary change; it will be reported again",
			zap.String("canary", c.Key()), zap.Error(err))
		return
	}
	r.telemetry.ReceiverFlaggerPhaseChanges.Add(context.Background(), 1)
	r.persistQuietly()
}

func (r *flaggerReceiver) onCanaryDeleted(key string) {
	r.mu.Lock()
	r.tracker.remove(key)
	r.mu.Unlock()
	r.logger.Debug("Canary deleted", zap.String("canary", key))
	r.persistQuietly()
}

// onKubernetesEvent reports each new occurrence of an Event.
func (r *flaggerReceiver) onKubernetesEvent(uid string, count int64, ev *flaggerEvent) {
	r.mu.Lock()
	prev, seen := r.events[uid]
	if seen && count <= prev {
		r.mu.Unlock()
		return
	}
	r.events[uid] = count
	if !seen && ev.Time.Before(r.tracker.baseline) {
		// Reported before this receiver started (or before its checkpoint).
		r.mu.Unlock()
		return
	}
	if st := r.tracker.state(ev.Namespace, ev.Name); st != nil {
		ev.Phase, ev.Revision = st.Phase, st.Revision
	}
	r.mu.Unlock()

	if r.dedup != nil {
		r.dedup.fromKubernetes(ev)
		return
	}
	// Note: an event the pipeline refuses is not retried; emitEvent logs it.
	_ = r.emitEvent(context.Background(), ev)
}

func (r *flaggerReceiver) forgetEvent(uid string) {
	r.mu.Lock()
	delete(r.events, uid)
	r.mu.Unlock()
}

// onWebhookEvent reports an event posted by Flagger and tells whether the pipeline took it.
func (r *flaggerReceiver) onWebhookEvent(ctx context.Context, ev *flaggerEvent) error {
	k8s := r.cfg.Kubernetes.Get()
	k8sEvents := r.cfg.Kubernetes.HasValue() && k8s.Events
	if !r.leading.Load() && k8sEvents {
		// The leader reports this event from the API.
		r.telemetry.ReceiverFlaggerDuplicateEvents.Add(ctx, 1)
		return nil
	}
	if !r.cfg.Kubernetes.HasValue() && ev.Phase != "" {
		// Without the API, the payload's phase is all the metrics have.
		r.mu.Lock()
		r.tracker.observePhase(ev.Namespace, ev.Name, ev.Phase, ev.Time)
		r.mu.Unlock()
	}
	if r.dedup != nil {
		return r.dedup.fromWebhook(ctx, ev)
	}
	return r.emitEvent(ctx, ev)
}

// emitEvent sends one event record down the logs pipeline.
func (r *flaggerReceiver) emitEvent(ctx context.Context, ev *flaggerEvent) error {
	now := r.now()
	r.mu.Lock()
	st := r.tracker.state(ev.Namespace, ev.Name)
	ld := r.eventLogs(ev, st, now)
	r.mu.Unlock()
	transport := transportHTTP
	if ev.Source == sourceKubernetes {
		transport = transportKubernetes
	}
	if err := r.consumeLogs(ctx, ld, transport); err != nil {
		if ev.Source == sourceKubernetes {
			r.logger.Warn("Pipeline refused a Flagger event", zap.String("canary", ev.Namespace+"/"+ev.Name), zap.Error(err))
		}
		return err
	}
	r.telemetry.ReceiverFlaggerEvents.Add(ctx, 1)
	if ev.Source != sourceWebhook {
		r.persistQuietly()
	}
	return nil
}

func (r *flaggerReceiver) consumeLogs(ctx context.Context, ld plog.Logs, transport string) error {
	if r.logs == nil {
		return nil
	}
	obs := r.obsrecv[transport]
	ctx = obs.StartLogsOp(ctx)
	err := r.logs.ConsumeLogs(ctx, ld)
	obs.EndLogsOp(ctx, dataFormat, ld.LogRecordCount(), err)
	return err
}

func (r *flaggerReceiver) emitMetricsEvery(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.emitMetrics(ctx)
		}
	}
}

func (r *flaggerReceiver) emitMetrics(ctx context.Context) {
	if !r.leading.Load() {
		return
	}
	r.mu.Lock()
	md := r.buildMetrics(r.now())
	r.mu.Unlock()
	if md.DataPointCount() == 0 {
		return
	}
	obs := r.obsrecv[transportKubernetes]
	ctx = obs.StartMetricsOp(ctx)
	err := r.metrics.ConsumeMetrics(ctx, md)
	obs.EndMetricsOp(ctx, dataFormat, md.DataPointCount(), err)
	if err != nil {
		r.logger.Debug("Pipeline refused canary metrics", zap.Error(err))
	}
}

// persist writes the checkpoint, when storage is configured.
func (r *flaggerReceiver) persist(ctx context.Context) error {
	if r.storage == nil {
		return nil
	}
	r.persistMu.Lock()
	defer r.persistMu.Unlock()
	r.mu.Lock()
	cp := &checkpoint{
		Written:  r.now().UTC(),
		Canaries: make(map[string]*canaryState, len(r.tracker.states)),
		Events:   make(map[string]int64, len(r.events)),
	}
	for k, s := range r.tracker.states {
		copied := *s
		cp.Canaries[k] = &copied
	}
	for k, n := range r.events {
		cp.Events[k] = n
	}
	r.mu.Unlock()
	return saveCheckpoint(ctx, r.storage, cp)
}

func (r *flaggerReceiver) persistQuietly() {
	if err := r.persist(context.Background()); err != nil {
		r.logger.Warn("Failed to write checkpoint", zap.Error(err))
	}
}

func (r *flaggerReceiver) malformed(kind string, err error) {
	r.telemetry.ReceiverFlaggerMalformedObjects.Add(context.Background(), 1)
	r.logger.Debug("Read a malformed object as far as possible", zap.String("kind", kind), zap.Error(err))
}

func (r *flaggerReceiver) reportError(err error) {
	r.logger.Warn("Kubernetes source degraded", zap.Error(err))
	r.reportStatus(componentstatus.NewRecoverableErrorEvent(err))
}

func (r *flaggerReceiver) reportStatus(ev *componentstatus.Event) {
	if r.host != nil {
		componentstatus.ReportStatus(r.host, ev)
	}
}
