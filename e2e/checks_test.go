package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/collector"
)

const (
	// quietPeriod is how long a settled output must stay as it is: past
	// the receiver's dedup window and two metrics intervals, a late
	// duplicate would show.
	quietPeriod = 5 * time.Second

	// syncGrace is how long a started collector may take to list what it
	// watches; a state that ended before is not required of it.
	syncGrace = 3 * time.Second

	// watchedMargin is how long a state must have been watched for the
	// collector to be required to report it.
	watchedMargin = time.Second
)

// window is a stretch of time; a zero to means until now.
type window struct {
	from, to time.Time
}

// settle waits until check passes on what the collector exported, then
// checks again after quietPeriod so that a record arriving late, such as
// a duplicate, fails the test.
func (s *scenario) settle(check func(t require.TestingT)) {
	s.t.Helper()

	require.EventuallyWithT(s.t, func(ct *assert.CollectT) { check(ct) }, settleTimeout, 500*time.Millisecond)

	// Waiting is the point here: nothing more may come.
	time.Sleep(quietPeriod)
	check(s.t)
}

// occurrences returns the occurrences of Events about the podinfo Canary.
func (s *scenario) occurrences() []cluster.EventVersion {
	var out []cluster.EventVersion
	for _, o := range s.events.Occurrences() {
		if o.Event.InvolvedObject.Name == appName {
			out = append(out, o)
		}
	}

	return out
}

// checkExact checks the records against all that the API served and
// Flagger posted, for a collector that saw all of it: each distinct state
// of the Canary is one phase change, in order; each Event occurrence and
// each webhook delivery is one event record, both sources' copies of one
// event being one record.
func (s *scenario) checkExact(t require.TestingT) ([]phaseRecord, []eventRecord) {
	phases, events := splitRecords(t, s.logRecords(t))

	states := cluster.States(s.canary.Versions())
	want := expectedPhaseLines(states)
	if assert.Equal(t, want, phaseLines(phases),
		"phase changes: expected from the Canary's status history (%d versions), got from the collector",
		len(s.canary.Versions())) {
		checkPhaseRecordDetails(t, s.ns, phases, states)
	}

	posts := s.postsDelivered()
	assert.Equal(t, expectedEventLines(s.occurrences(), posts), eventLines(events),
		"events: expected from the Events in the API and the webhooks the collector accepted, got from the collector")
	checkEventRecordDetails(t, s.ns, events, posts)
	s.checkEventsInAPI(t, events)

	return phases, events
}

// checkEventsInAPI checks, apart from the watch, that the latest
// occurrence of every Event the API now holds about the Canary is
// reported.
func (s *scenario) checkEventsInAPI(t require.TestingT, events []eventRecord) {
	list, err := s.env.cluster.Kube.CoreV1().Events(s.ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Canary,involvedObject.name=" + appName,
	})
	require.NoError(t, err)

	for i := range list.Items {
		o := cluster.EventVersion{Event: &list.Items[i]}
		msg := strings.TrimPrefix(o.Event.Message, aggregatedPrefix)
		assert.True(t, slices.ContainsFunc(events, func(e eventRecord) bool {
			return e.Source != "webhook" && e.Body == msg && e.Count == o.Count()
		}), "Event %s in the API, occurrence %d of %q, not reported", o.Event.Name, o.Count(), msg)
	}
}

// checkFinalMetrics checks that the last metrics the latest run emitted
// describe the Canary's last state and count the rollouts that run ended.
func (s *scenario) checkFinalMetrics(t require.TestingT, rollouts map[string]int64, durations map[string]float64) {
	states := cluster.States(s.canary.Versions())
	if !assert.NotEmpty(t, states, "the Canary has no status") {
		return
	}
	final := states[len(states)-1]

	last := s.runs[len(s.runs)-1]
	batches, err := collector.ReadMetrics(last.col.OutputPath(metricsFlagger))
	require.NoError(t, err)
	ms := metricsOf(batches, s.ns, appName)
	if !assert.NotEmpty(t, ms, "no metrics for the Canary") {
		return
	}
	cm := ms[len(ms)-1]
	assert.True(t, cm.At.After(final.At), "the last metrics (%s) are older than the last state (%s)", cm.At, final.At)
	checkMetricsShow(t, cm, s.ns, final.State(), rollouts, durations)
}

// lastRunPhases returns the phase records of the latest run.
func (s *scenario) lastRunPhases(t require.TestingT) []phaseRecord {
	last := s.runs[len(s.runs)-1]
	logs, err := collector.ReadLogs(last.col.OutputPath(logsFlagger))
	require.NoError(t, err)

	var records []collector.LogRecord
	for _, rec := range collector.LogRecords(logs) {
		if resourceIs(rec.Resource.Resource().Attributes(), s.ns, appName) {
			records = append(records, rec)
		}
	}
	phases, _ := splitRecords(t, records)

	return phases
}

// watched tells whether a collector watched the Canary for more than
// watchedMargin of [from, to), outside the blackouts and the first
// syncGrace of each run.
func (s *scenario) watched(from, to time.Time, blackouts []window) bool {
	if to.IsZero() {
		to = time.Now()
	}

	var covered time.Duration
	for _, r := range s.runs {
		w := window{from: r.ready.Add(syncGrace), to: r.stopped}
		if r == s.runs[0] {
			// The first run started before the Canary existed.
			w.from = r.ready
		}
		covered += uncovered(intersect(window{from, to}, w), blackouts)
	}

	return covered > watchedMargin
}

func intersect(a, b window) window {
	from := a.from
	if b.from.After(from) {
		from = b.from
	}
	to := a.to
	if !b.to.IsZero() && b.to.Before(to) {
		to = b.to
	}
	if to.Before(from) {
		to = from
	}

	return window{from, to}
}

// uncovered returns how much of w no blackout covers; blackouts must not
// overlap each other.
func uncovered(w window, blackouts []window) time.Duration {
	d := w.to.Sub(w.from)
	for _, b := range blackouts {
		if b.to.IsZero() {
			b.to = time.Now()
		}
		o := intersect(w, b)
		d -= o.to.Sub(o.from)
	}

	return max(d, 0)
}

// checkAcrossGaps checks the records of a collector that could not watch
// all the time (blackouts): nothing repeated, nothing out of order,
// nothing invented, nothing that lasted while it watched skipped, and the
// final state reported.
func (s *scenario) checkAcrossGaps(t require.TestingT, blackouts []window) ([]phaseRecord, []eventRecord) {
	phases, events := splitRecords(t, s.logRecords(t))

	states := cluster.States(s.canary.Versions())
	stateLines := make([]string, len(states))
	for i, v := range states {
		stateLines[i] = v.State().String()
	}
	got := make([]string, len(phases))
	for i, p := range phases {
		got[i] = p.State.String()
	}

	assert.True(t, isSubsequence(got, stateLines),
		"phase changes out of order, repeated or never seen in the API:\nexpected a subsequence of\n\t%s\ngot\n\t%s",
		strings.Join(stateLines, "\n\t"), strings.Join(got, "\n\t"))

	for i, v := range states {
		var end time.Time
		if i+1 < len(states) {
			end = states[i+1].At
		}
		if s.watched(v.At, end, blackouts) {
			assert.Contains(t, got, stateLines[i], "state from %s to %s was watched but not reported",
				v.At.Format(time.TimeOnly), end.Format(time.TimeOnly))
		}
	}
	if assert.NotEmpty(t, states) && assert.NotEmpty(t, phases) {
		assert.Equal(t, states[len(states)-1].State(), phases[len(phases)-1].State, "final state")
	}

	for i, p := range phases {
		want := ""
		if i > 0 {
			want = phases[i-1].State.Phase
		}
		assert.Equal(t, want, p.Previous, "previous phase of %q", p.Body)
		assert.Equal(t, phaseBody(s.ns, p), p.Body)
		checkCanaryResource(t, p.rec.Resource.Resource().Attributes(), s.ns, appName)

		var prev cluster.CanaryState
		if i > 0 {
			prev = phases[i-1].State
		}
		assert.Equal(t, phaseSeverity(p.State, prev), p.Severity, "severity of %q", p.Body)
	}
	checkRolloutDurations(t, phases)

	s.checkEventsAcrossGaps(t, events, blackouts)

	return phases, events
}

// checkEventsAcrossGaps checks event records when the collector could not
// watch all the time: no event twice, every occurrence seen while it
// watched and every Event's latest count reported, every webhook it
// accepted reported.
func (s *scenario) checkEventsAcrossGaps(t require.TestingT, events []eventRecord, blackouts []window) {
	for i, a := range events {
		for _, b := range events[i+1:] {
			if a.Body == b.Body && absDuration(a.Time.Sub(b.Time)) <= matchTolerance {
				assert.Fail(t, "event reported twice", "%s\n%s", a.line(), b.line())
			}
		}
	}

	type occurrence struct {
		message string
		count   int64
	}
	reported := map[occurrence]int{}
	for _, e := range events {
		if e.Source != "webhook" {
			reported[occurrence{e.Body, e.Count}]++
		}
	}
	for o, n := range reported {
		assert.Equal(t, 1, n, "occurrence %d of %q reported %d times", o.count, o.message, n)
	}

	latest := map[string]cluster.EventVersion{}
	for _, o := range s.occurrences() {
		latest[string(o.Event.UID)] = o
		key := occurrence{strings.TrimPrefix(o.Event.Message, aggregatedPrefix), o.Count()}
		if s.watched(o.At, o.At.Add(watchedMargin+time.Millisecond), blackouts) {
			assert.Contains(t, reported, key, "occurrence %d of %q at %s was watched but not reported",
				key.count, key.message, o.At.Format(time.TimeOnly))
		}
	}
	for _, o := range latest {
		key := occurrence{strings.TrimPrefix(o.Event.Message, aggregatedPrefix), o.Count()}
		assert.Contains(t, reported, key, "latest occurrence %d of %q not reported", key.count, key.message)
	}

	for _, req := range s.postsDelivered() {
		msg := req.Payload.Metadata["eventMessage"]
		found := false
		for _, e := range events {
			if e.Source != "kubernetes" && e.Body == msg && e.Time.Equal(postTime(req)) {
				found = true
			}
		}
		assert.True(t, found, "webhook %q at %s accepted but not reported", msg, postTime(req).Format(time.TimeOnly))
	}

	s.checkEventsInAPI(t, events)
}

// metricBatches returns the batches of every run, in order.
func (s *scenario) metricBatches(t require.TestingT) []pmetric.Metrics {
	var out []pmetric.Metrics
	for _, r := range s.runs {
		batches, err := collector.ReadMetrics(r.col.OutputPath(metricsFlagger))
		require.NoError(t, err)
		out = append(out, batches...)
	}

	return out
}

// describe lists records one a line, for failure messages.
func describe(records []collector.LogRecord) string {
	lines := make([]string, len(records))
	for i, rec := range records {
		lines[i] = fmt.Sprintf("%s %s %v", rec.Record.SeverityText(), rec.Record.Body().AsString(),
			rec.Record.Attributes().AsRaw())
	}

	return strings.Join(lines, "\n")
}
