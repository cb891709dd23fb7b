package e2e

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/webhook"
)

// TestFlagger runs the scenarios that share one cluster, each in its own
// namespace with its own collector, against the real Flagger.
func TestFlagger(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	e := startEnv(t)

	for _, sc := range []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"RolloutSucceeds", testRolloutSucceeds},
		{"RolloutFails", testRolloutFails},
		{"SteadyState", testSteadyState},
		{"CollectorRestart", testCollectorRestart},
		{"CanaryRole", testCanaryRole},
		{"CanaryDeleted", testCanaryDeleted},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()

			began := time.Now()
			sc.run(t, e)
			t.Logf("%s took %s", sc.name, time.Since(began).Round(time.Second))
		})
	}
}

// testRolloutSucceeds: a rollout to Succeeded is reported change by
// change, each event once although both sources carry it, and the metrics
// end at Succeeded with one successful rollout. The collector holds the
// shipped leader election Lease.
//
// Six iterations make more than ten distinct Normal events, so the API
// server's event correlator combines the later ones into one Event whose
// count rises and whose message changes.
func testRolloutSucceeds(t *testing.T, e *env) {
	s := e.newScenario(t, "rollout")
	s.startCollector(collectorOptions{leaderElection: true})
	s.createCanarySpec(cluster.CanarySpec{Iterations: 6})

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	began := time.Now()
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	s.canary.WaitForPhase(t, initialized+1, flaggerv1.CanaryPhaseSucceeded, rolloutTimeout)
	t.Logf("rollout succeeded in %s: %s", time.Since(began).Round(time.Second), s.canary)

	var phases []phaseRecord
	var events []eventRecord
	s.settle(func(t require.TestingT) {
		phases, events = s.checkExact(t)
		rollouts, durations := rolloutTotals(phases)
		assert.Equal(t, map[string]int64{"succeeded": 1}, rollouts, "rollouts ended")
		s.checkFinalMetrics(t, rollouts, durations)
	})

	assert.True(t, isSubsequence([]string{
		"Initialized -> Progressing",
		"Progressing -> Promoting",
		"Promoting -> Finalising",
		"Finalising -> Succeeded",
	}, transitions(phases)), "phase transitions: %v", transitions(phases))

	// The revision is set once initialized and changes once after: when
	// Flagger takes up the new one.
	final, err := e.cluster.GetCanary(t.Context(), s.ns, appName)
	require.NoError(t, err)
	var changes []string
	for i := 1; i < len(phases); i++ {
		if prev := phases[i-1].State.Revision; prev != "" && phases[i].State.Revision != prev {
			changes = append(changes, phases[i].line())
		}
	}
	if assert.Len(t, changes, 1, "revision changes") {
		assert.Equal(t, phaseLine("INFO", string(flaggerv1.CanaryPhaseInitialized), cluster.CanaryState{
			Phase:    string(flaggerv1.CanaryPhaseProgressing),
			Revision: final.Status.LastAppliedSpec,
		}, ""), changes[0])
	}
	assert.Equal(t, final.Status.LastAppliedSpec, final.Status.LastPromotedSpec)

	checkEventPayloads(t, s.env.router.Requests(s.ns))
	assert.True(t, slices.ContainsFunc(s.occurrences(), func(o cluster.EventVersion) bool {
		return strings.HasPrefix(o.Event.Message, aggregatedPrefix) && o.Count() > 1
	}), "the API server combined no events: the scenario no longer covers combined events")

	bySource := map[string]int{}
	for _, ev := range events {
		bySource[ev.Source]++
	}
	t.Logf("event records by source: %v", bySource)
	assert.Positive(t, bySource["both"], "no event came from both sources")
}

// testRolloutFails: a rollout webhook answering 500 with threshold 2 fails
// the rollout; failed checks rising are warnings, Failed is an error, and
// one failed rollout is counted.
func testRolloutFails(t *testing.T, e *env) {
	hook := webhook.NewServer(t, http.StatusInternalServerError)

	s := e.newScenario(t, "failure")
	s.startCollector(collectorOptions{})
	s.createCanary(cluster.Webhook{Name: "acceptance", Type: flaggerv1.RolloutHook, URL: hook.URL})

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	began := time.Now()
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	s.canary.WaitForPhase(t, initialized+1, flaggerv1.CanaryPhaseFailed, rolloutTimeout)
	t.Logf("rollout failed in %s: %s", time.Since(began).Round(time.Second), s.canary)

	var phases []phaseRecord
	s.settle(func(t require.TestingT) {
		phases, _ = s.checkExact(t)
		rollouts, durations := rolloutTotals(phases)
		assert.Equal(t, map[string]int64{"failed": 1}, rollouts, "rollouts ended")
		s.checkFinalMetrics(t, rollouts, durations)
	})

	var rising []int64
	for _, p := range phases {
		if p.Severity == "WARN" {
			assert.Equal(t, string(flaggerv1.CanaryPhaseProgressing), p.State.Phase, "%q", p.Body)
			rising = append(rising, p.State.FailedChecks)
		}
	}
	assert.Equal(t, []int64{1, 2}, rising, "failed checks of the WARN records")

	last := phases[len(phases)-1]
	assert.Equal(t, "ERROR", last.Severity)
	assert.Equal(t, string(flaggerv1.CanaryPhaseFailed), last.State.Phase)
	assert.Equal(t, "failed", last.Result)

	primary, err := e.cluster.Kube.AppsV1().Deployments(s.ns).Get(t.Context(), appName+"-primary", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", primary.Spec.Template.Annotations[cluster.RevisionAnnotation],
		"the failed revision must not reach the primary")
}

// testSteadyState: a finished Canary that Flagger keeps rewriting produces
// no records. Flagger rewrites the status of a failed Canary every
// interval, with a new lastTransitionTime and nothing else changed.
func testSteadyState(t *testing.T, e *env) {
	hook := webhook.NewServer(t, http.StatusInternalServerError)

	s := e.newScenario(t, "steady")
	s.startCollector(collectorOptions{})
	s.createCanary(cluster.Webhook{Name: "acceptance", Type: flaggerv1.RolloutHook, URL: hook.URL})

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	s.canary.WaitForPhase(t, initialized+1, flaggerv1.CanaryPhaseFailed, rolloutTimeout)
	s.settle(func(t require.TestingT) { s.checkExact(t) })

	before := s.logRecords(t)
	from := s.canary.Len()
	posts := len(s.env.router.Requests(s.ns))
	occurrences := len(s.occurrences())
	since := time.Now()

	const rewrites = 3
	require.Eventually(t, func() bool {
		return s.canary.Len() >= from+rewrites && time.Since(since) >= rewrites*analysisInterval
	}, 3*time.Minute, 250*time.Millisecond, "Flagger did not rewrite the Canary %d times in %d intervals",
		rewrites, rewrites)

	versions := s.canary.Versions()[from-1:]
	seen := map[string]bool{}
	for _, v := range versions {
		assert.Equal(t, versions[0].State(), v.State(), "the Canary changed at resourceVersion %s", v.ResourceVersion)
		assert.False(t, seen[v.ResourceVersion], "resourceVersion %s twice", v.ResourceVersion)
		seen[v.ResourceVersion] = true
	}
	t.Logf("Flagger rewrote the Canary %d times in %s", len(versions)-1, time.Since(since).Round(time.Second))

	assert.Len(t, s.env.router.Requests(s.ns), posts, "Flagger posted events in the steady state")
	assert.Len(t, s.occurrences(), occurrences, "Flagger recorded events in the steady state")

	after := s.logRecords(t)
	assert.Len(t, after, len(before), "records after the Canary settled:\n%s", describe(after[min(len(before), len(after)):]))
}

// testCollectorRestart: a collector stopped in the middle of a rollout and
// started again with the same file_storage neither repeats nor skips what
// changed: the two runs together report each state once, in order, the
// state reached while it was down, and the end of the rollout.
func testCollectorRestart(t *testing.T, e *env) {
	storage := t.TempDir()

	s := e.newScenario(t, "restart")
	s.startCollector(collectorOptions{storageDir: storage})
	s.createCanary()

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	mid := s.canary.WaitFor(t, initialized+1, "a first analysis iteration", func(v cluster.CanaryVersion) bool {
		return v.Status.Phase == flaggerv1.CanaryPhaseProgressing && v.Status.Iterations >= 1
	}, rolloutTimeout)
	midState := s.canary.Versions()[mid].State()

	// Stop once the collector reported the iteration, so the checkpoint
	// holds a rollout under way.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		phases, _ := splitRecords(ct, s.logRecords(ct))
		assert.True(ct, slices.ContainsFunc(phases, func(p phaseRecord) bool { return p.State == midState }),
			"%s not reported yet", midState)
	}, settleTimeout, 200*time.Millisecond)
	s.stopCollector()
	down, _ := s.canary.Last()
	t.Logf("collector stopped at %s", down.State())

	changed := s.canary.WaitFor(t, s.canary.Len(), "a change while the collector is down",
		func(v cluster.CanaryVersion) bool { return v.HasStatus && v.State() != down.State() }, rolloutTimeout)
	t.Logf("while down: %s", s.canary.Versions()[changed].State())

	s.startCollector(collectorOptions{storageDir: storage})
	s.canary.WaitForPhase(t, changed, flaggerv1.CanaryPhaseSucceeded, rolloutTimeout)
	t.Logf("rollout: %s", s.canary)

	blackouts := []window{{from: s.runs[0].stopped, to: s.runs[1].ready.Add(syncGrace)}}
	var phases []phaseRecord
	s.settle(func(t require.TestingT) {
		phases, _ = s.checkAcrossGaps(t, blackouts)
		rollouts, durations := rolloutTotals(s.lastRunPhases(t))
		assert.Equal(t, map[string]int64{"succeeded": 1}, rollouts, "rollouts the second run ended")
		s.checkFinalMetrics(t, rollouts, durations)
	})

	// The first record of the second run continues from the checkpoint.
	first := len(phases) - len(s.lastRunPhases(t))
	if assert.Positive(t, first, "the first run reported nothing") && assert.Less(t, first, len(phases)) {
		assert.NotEqual(t, phases[first-1].State, phases[first].State,
			"the second run repeated the last state of the first")
	}
}

// testCanaryRole: traces, metrics and logs from the primary's and the
// canary's pods, named as the API lists them, come out stamped with their
// role and Canary; telemetry from another workload is left alone.
func testCanaryRole(t *testing.T, e *env) {
	tool := cluster.TelemetrygenPath()
	require.FileExists(t, tool, "build telemetrygen with build-tools.sh")

	// A closed gate keeps the rollout, and both sides' pods, up.
	gate := webhook.NewServer(t, http.StatusForbidden)

	s := e.newScenario(t, "test")
	r := s.startCollector(collectorOptions{})
	s.createCanary(cluster.Webhook{Name: "gate", Type: flaggerv1.ConfirmPromotionHook, URL: gate.URL})

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	s.canary.WaitForPhase(t, initialized+1, flaggerv1.CanaryPhaseWaitingPromotion, rolloutTimeout)

	primaryPod := e.cluster.WaitForPod(t, s.ns, appName+"-primary")
	canaryPod := e.cluster.WaitForPod(t, s.ns, appName)
	const otherPod = "unrelated-5f7b9c8d6-q2w3e"
	t.Logf("pods: primary %s, canary %s", primaryPod, canaryPod)

	want := map[string]map[string]any{
		primaryPod: {attrRole: "primary", attrCanaryName: appName},
		canaryPod:  {attrRole: "canary", attrCanaryName: appName},
		otherPod:   {},
	}
	for pod := range want {
		for _, signal := range []string{"traces", "metrics", "logs"} {
			sendTelemetry(t, tool, signal, r.otlpEndpoint, s.ns, pod)
		}
	}

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		checkStamped(ct, r, s.ns, want)
	}, settleTimeout, 500*time.Millisecond)
}

// testCanaryDeleted: once a Canary is deleted its series stop, while the
// other Canary's go on.
func testCanaryDeleted(t *testing.T, e *env) {
	const other = "backend"

	s := e.newScenario(t, "deletion")
	e.cluster.CreatePodinfo(t, s.ns, other)
	otherHistory := e.cluster.WatchCanary(t, s.ns, other)
	s.startCollector(collectorOptions{})
	s.createCanary()
	e.cluster.CreateCanary(t, cluster.CanarySpec{Namespace: s.ns, Name: other})

	s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	otherHistory.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		batches := s.metricBatches(ct)
		assert.NotEmpty(ct, metricsOf(batches, s.ns, appName), "no series for %s", appName)
		assert.NotEmpty(ct, metricsOf(batches, s.ns, other), "no series for %s", other)
	}, settleTimeout, 500*time.Millisecond)

	from := s.canary.Len()
	e.cluster.DeleteCanary(t, s.ns, appName)
	at := s.canary.WaitFor(t, from, "deleted", func(v cluster.CanaryVersion) bool { return v.Deleted }, time.Minute)
	deleted := s.canary.Versions()[at].At
	// The collector hears of the deletion when the test does; an emission
	// already under way may still carry the series.
	after := deleted.Add(metricsInterval)

	const emissions = 3
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var later int
		for _, cm := range metricsOf(s.metricBatches(ct), s.ns, other) {
			if cm.At.After(after) {
				later++
			}
		}
		assert.GreaterOrEqual(ct, later, emissions, "emissions after the deletion")
	}, settleTimeout, 500*time.Millisecond)

	var last time.Time
	for _, cm := range metricsOf(s.metricBatches(t), s.ns, appName) {
		assert.False(t, cm.At.After(after), "series %v of the deleted Canary at %s, deleted at %s",
			cm.Names, cm.At.Format(time.TimeOnly+".000"), deleted.Format(time.TimeOnly+".000"))
		last = cm.At
	}
	t.Logf("deleted at %s, last series at %s", deleted.Format(time.TimeOnly+".000"), last.Format(time.TimeOnly+".000"))
}

// TestFlaggerAPIServerRestart restarts the API server in the middle of a
// rollout, in a cluster of its own: nothing is reported twice and the end
// of the rollout is reported. It first checks that the shipped RBAC lets
// the collector read what it watches and nothing more.
func TestFlaggerAPIServerRestart(t *testing.T) {
	requireE2E(t)
	t.Parallel()

	e := startEnv(t)
	checkCollectorIdentity(t, e)

	s := e.newScenario(t, "apirestart")
	// The leader keeps its Lease through the restart. With the default
	// renew deadline of 10 s a slow restart would hand it over, and a new
	// leader does not report what changed during the hand-over (a
	// documented limitation), which is not what this scenario is about.
	s.startCollector(collectorOptions{leaderElection: true, leaseDuration: time.Minute})
	s.createCanary()

	initialized := s.canary.WaitForPhase(t, 0, flaggerv1.CanaryPhaseInitialized, 2*time.Minute)
	e.cluster.TriggerRevision(t, s.ns, appName, "2")
	mid := s.canary.WaitFor(t, initialized+1, "a first analysis iteration", func(v cluster.CanaryVersion) bool {
		return v.Status.Phase == flaggerv1.CanaryPhaseProgressing && v.Status.Iterations >= 1
	}, rolloutTimeout)

	restart := window{from: time.Now()}
	e.cluster.RestartAPIServer(t)
	restart.to = time.Now().Add(syncGrace)
	t.Logf("api server restarted in %s", time.Since(restart.from).Round(100*time.Millisecond))

	s.canary.WaitForPhase(t, mid, flaggerv1.CanaryPhaseSucceeded, rolloutTimeout)
	t.Logf("rollout: %s", s.canary)

	s.settle(func(t require.TestingT) {
		phases, _ := s.checkAcrossGaps(t, []window{restart})
		rollouts, durations := rolloutTotals(phases)
		assert.Equal(t, map[string]int64{"succeeded": 1}, rollouts, "rollouts ended")
		s.checkFinalMetrics(t, rollouts, durations)
	})
}

// transitions lists the phase changes of the records, as "from -> to".
func transitions(phases []phaseRecord) []string {
	var out []string
	for _, p := range phases {
		if p.Previous != "" && p.Previous != p.State.Phase {
			out = append(out, p.Previous+" -> "+p.State.Phase)
		}
	}

	return out
}

// checkEventPayloads checks the shape of every event webhook Flagger sent
// and that the collector accepted each.
func checkEventPayloads(t *testing.T, reqs []webhook.Request) {
	t.Helper()

	require.NotEmpty(t, reqs, "no event webhook received")
	for _, req := range reqs {
		require.NoError(t, req.DecodeErr, "body %s", req.Body)

		p := req.Payload
		assert.Equal(t, http.StatusOK, req.Status, "answer to %q: %s", p.Metadata["eventMessage"], req.Answer)
		assert.Equal(t, appName, p.Name)
		assert.NotEmpty(t, p.Phase)
		assert.NotEmpty(t, p.Checksum)
		assert.NotEmpty(t, p.Metadata["eventMessage"])
		assert.Contains(t, []string{"Normal", "Warning"}, p.Metadata["eventType"])

		ms, err := strconv.ParseInt(p.Metadata["timestamp"], 10, 64)
		if assert.NoError(t, err, "timestamp %q is not Unix milliseconds", p.Metadata["timestamp"]) {
			assert.WithinDuration(t, req.At, time.UnixMilli(ms), 10*time.Second)
		}
	}
}
