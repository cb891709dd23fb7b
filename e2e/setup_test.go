package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/collector"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/webhook"
)

const (
	// appName is the Deployment and Canary of every scenario.
	appName = "podinfo"

	// metricsInterval is the receiver's metrics_interval.
	metricsInterval = 2 * time.Second

	// analysisInterval is how often Flagger runs an analysis here: at
	// least 10 s, whatever the Canary's interval says.
	analysisInterval = 10 * time.Second

	// rolloutTimeout bounds a rollout from the new revision to its end;
	// one takes about 80 s on an idle machine.
	rolloutTimeout = 4 * time.Minute

	// settleTimeout bounds how long the collector may take to report
	// what the cluster already shows.
	settleTimeout = 30 * time.Second

	// Pipeline IDs of the collector configuration, as the shipped one
	// keeps them: the receiver's records apart from application data.
	logsFlagger    = "logs/flagger"
	metricsFlagger = "metrics/flagger"
	tracesApp      = "traces/app"
	metricsApp     = "metrics/app"
	logsApp        = "logs/app"
)

// env is one cluster that several scenarios share, each in its own
// namespace with its own collector.
type env struct {
	cluster *cluster.Cluster

	// router hands Flagger's event webhook to each scenario's collector
	// and records what Flagger posted.
	router *webhook.Router

	// kubeconfig authenticates as the collector's ServiceAccount.
	kubeconfig string

	bin string
}

// startEnv starts a cluster whose Flagger posts its events to a router and
// applies the collector's identity from configs/kubernetes.
func startEnv(t *testing.T) *env {
	t.Helper()

	bin := collector.RequireBin(t)
	router := webhook.NewRouter(t)
	c := cluster.Start(t, cluster.Options{EventWebhookURL: router.URL + "/events"})

	return &env{
		cluster:    c,
		router:     router,
		kubeconfig: c.ApplyCollectorIdentity(t),
		bin:        bin,
	}
}

// scenario is one namespace of a shared cluster: the podinfo Deployment,
// the watches that record what the API served, and the collector runs.
type scenario struct {
	t   *testing.T
	env *env
	ns  string

	// canary records every version of the podinfo Canary.
	canary *cluster.CanaryHistory

	// events records every version of the Events about Canaries.
	events *cluster.EventHistory

	// runs are the collectors started, in order.
	runs []*run
}

// run is one collector process of a scenario.
type run struct {
	col *collector.Collector

	// otlpEndpoint is the collector's OTLP/gRPC receiver.
	otlpEndpoint string

	// ready is when its health check answered; stopped is when Stop
	// began, zero while it runs.
	ready   time.Time
	stopped time.Time
}

// newScenario creates the namespace and the podinfo Deployment and starts
// recording the Canary and its Events, before the Canary exists.
func (e *env) newScenario(t *testing.T, ns string) *scenario {
	t.Helper()

	e.cluster.CreateNamespace(t, ns)
	e.cluster.CreatePodinfo(t, ns, appName)

	return &scenario{
		t:      t,
		env:    e,
		ns:     ns,
		canary: e.cluster.WatchCanary(t, ns, appName),
		events: e.cluster.WatchEvents(t, ns),
	}
}

// collectorOptions vary the collector between scenarios.
type collectorOptions struct {
	// leaderElection turns on the receiver's leader election with its
	// default Lease, the one the shipped Role allows.
	leaderElection bool

	// leaseDuration, when set, replaces the default lease_duration; the
	// renew deadline is two thirds of it.
	leaseDuration time.Duration

	// storageDir, when set, keeps the receiver's checkpoints there.
	storageDir string
}

// startCollector runs the distribution as the collector's ServiceAccount:
// the flagger receiver with both sources on the scenario's namespace,
// canaryrole on application telemetry from OTLP, and file exporters. It
// routes the namespace's event webhooks to it once it is healthy.
func (s *scenario) startCollector(opts collectorOptions) *run {
	t := s.t
	t.Helper()

	hookPort, err := collector.FreePort()
	require.NoError(t, err)
	otlpPort, err := collector.FreePort()
	require.NoError(t, err)
	hookEndpoint := fmt.Sprintf("127.0.0.1:%d", hookPort)
	otlpEndpoint := fmt.Sprintf("127.0.0.1:%d", otlpPort)

	k8s := map[string]any{
		"auth_type":  "kubeConfig",
		"namespaces": []string{s.ns},
		"events":     true,
	}
	if opts.leaderElection {
		le := map[string]any{}
		if opts.leaseDuration > 0 {
			le["lease_duration"] = opts.leaseDuration.String()
			le["renew_deadline"] = (opts.leaseDuration * 2 / 3).String()
		}
		k8s["leader_election"] = le
	}
	flagger := map[string]any{
		"metrics_interval": metricsInterval.String(),
		"kubernetes":       k8s,
		"webhook":          map[string]any{"endpoint": hookEndpoint, "path": "/events"},
	}
	var extensions map[string]any
	if opts.storageDir != "" {
		flagger["storage"] = "file_storage"
		extensions = map[string]any{"file_storage": map[string]any{"directory": opts.storageDir}}
	}

	app := &collector.Pipeline{Receivers: []string{"otlp"}, Processors: []string{"canaryrole"}}
	col := collector.Start(t, collector.Options{
		Bin: s.env.bin,
		Receivers: map[string]any{
			"flagger": flagger,
			"otlp": map[string]any{
				"protocols": map[string]any{"grpc": map[string]any{"endpoint": otlpEndpoint}},
			},
		},
		Processors: map[string]any{
			"canaryrole": map[string]any{
				"kubernetes": map[string]any{"auth_type": "kubeConfig", "namespaces": []string{s.ns}},
			},
		},
		Pipelines: map[string]*collector.Pipeline{
			logsFlagger:    {Receivers: []string{"flagger"}},
			metricsFlagger: {Receivers: []string{"flagger"}},
			tracesApp:      app,
			metricsApp:     app,
			logsApp:        app,
		},
		Extensions: extensions,
		Env:        []string{"KUBECONFIG=" + s.env.kubeconfig},
	})
	r := &run{col: col, otlpEndpoint: otlpEndpoint, ready: time.Now()}
	s.runs = append(s.runs, r)
	t.Logf("collector %d running in %s", len(s.runs), col.Dir)

	if opts.leaderElection {
		require.Eventually(t, func() bool {
			lease, err := s.env.cluster.Kube.CoordinationV1().Leases(cluster.CollectorNamespace).
				Get(t.Context(), "otelcol-flagger", metav1.GetOptions{})
			return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
		}, time.Minute, 250*time.Millisecond, "the collector never took its leader election Lease")
		r.ready = time.Now()
	}

	s.env.router.Route(s.ns, "http://"+hookEndpoint+"/events")

	return r
}

// stopCollector stops the latest run; Flagger's event webhooks for the
// namespace fail until the next run starts, as with a collector that is
// down.
func (s *scenario) stopCollector() {
	r := s.runs[len(s.runs)-1]
	s.env.router.Route(s.ns, "")
	r.stopped = time.Now()
	r.col.Stop()
}

// createCanary creates the podinfo Canary with the given analysis webhooks.
func (s *scenario) createCanary(webhooks ...cluster.Webhook) {
	s.t.Helper()

	s.createCanarySpec(cluster.CanarySpec{Webhooks: webhooks})
}

// createCanarySpec creates the podinfo Canary as spec says otherwise.
func (s *scenario) createCanarySpec(spec cluster.CanarySpec) {
	s.t.Helper()

	spec.Namespace, spec.Name = s.ns, appName
	s.env.cluster.CreateCanary(s.t, spec)
}

// logRecords returns the receiver's records about the scenario's Canary,
// from every run in order.
func (s *scenario) logRecords(t require.TestingT) []collector.LogRecord {
	var out []collector.LogRecord
	for _, r := range s.runs {
		logs, err := collector.ReadLogs(r.col.OutputPath(logsFlagger))
		require.NoError(t, err)
		for _, rec := range collector.LogRecords(logs) {
			if resourceIs(rec.Resource.Resource().Attributes(), s.ns, appName) {
				out = append(out, rec)
			}
		}
	}

	return out
}

// postsDelivered returns Flagger's event webhooks for the namespace that
// the collector accepted.
func (s *scenario) postsDelivered() []webhook.Request {
	var out []webhook.Request
	for _, req := range s.env.router.Requests(s.ns) {
		if req.Status == http.StatusOK {
			out = append(out, req)
		}
	}

	return out
}
