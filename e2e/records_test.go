package e2e

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/collector"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/webhook"
)

// Names from the receiver's output contract (receiver/flaggerreceiver/README.md).
const (
	eventPhaseChange = "flagger.canary.phase_change"
	eventCanaryEvent = "flagger.canary.event"

	attrEventName     = "event.name"
	attrNamespace     = "k8s.namespace.name"
	attrDeployment    = "k8s.deployment.name"
	attrCanaryName    = "flagger.canary.name"
	attrRole          = "flagger.canary.role"
	attrPhase         = "flagger.canary.phase"
	attrPreviousPhase = "flagger.canary.previous_phase"
	attrWeight        = "flagger.canary.weight"
	attrFailedChecks  = "flagger.canary.failed_checks"
	attrIterations    = "flagger.canary.iterations"
	attrRevision      = "flagger.canary.revision"
	attrResult        = "flagger.canary.result"
	attrDuration      = "flagger.canary.rollout.duration"
	attrEventType     = "flagger.event.type"
	attrEventSource   = "flagger.event.source"
	attrEventCount    = "flagger.event.count"

	metricPhase           = "flagger.canary.phase"
	metricWeight          = "flagger.canary.weight"
	metricFailedChecks    = "flagger.canary.failed_checks"
	metricIterations      = "flagger.canary.iterations"
	metricRollouts        = "flagger.canary.rollouts"
	metricRolloutDuration = "flagger.canary.rollout.duration"

	// aggregatedPrefix is what the API server's event correlator puts
	// before the message of an Event standing for several.
	aggregatedPrefix = "(combined from similar events): "

	// matchTolerance is how far apart the two sources' timestamps of one
	// event may be for the receiver to take them as one.
	matchTolerance = 2 * time.Second
)

// knownPhases are Flagger's phases; the phase gauge reports each.
var knownPhases = []flaggerv1.CanaryPhase{
	flaggerv1.CanaryPhaseInitializing,
	flaggerv1.CanaryPhaseInitialized,
	flaggerv1.CanaryPhaseWaiting,
	flaggerv1.CanaryPhaseProgressing,
	flaggerv1.CanaryPhaseWaitingPromotion,
	flaggerv1.CanaryPhasePromoting,
	flaggerv1.CanaryPhaseFinalising,
	flaggerv1.CanaryPhaseSucceeded,
	flaggerv1.CanaryPhaseFailed,
	flaggerv1.CanaryPhaseTerminating,
	flaggerv1.CanaryPhaseTerminated,
}

// resourceIs tells whether a resource is the one of a Canary.
func resourceIs(attrs pcommon.Map, namespace, name string) bool {
	ns, ok1 := attrs.Get(attrNamespace)
	n, ok2 := attrs.Get(attrCanaryName)

	return ok1 && ok2 && ns.Str() == namespace && n.Str() == name
}

// checkCanaryResource checks that a resource carries exactly the attributes
// of a Canary targeting the Deployment of the same name.
func checkCanaryResource(t require.TestingT, attrs pcommon.Map, namespace, name string) {
	assert.Equal(t, map[string]any{
		attrNamespace:  namespace,
		attrCanaryName: name,
		attrDeployment: name,
	}, attrs.AsRaw(), "resource attributes")
}

// phaseRecord is one flagger.canary.phase_change record.
type phaseRecord struct {
	Time        time.Time
	Severity    string
	Body        string
	Previous    string
	State       cluster.CanaryState
	Result      string
	Duration    float64
	HasDuration bool

	rec collector.LogRecord
}

// line is what a diff between expected and reported records shows.
func (p phaseRecord) line() string {
	return phaseLine(p.Severity, p.Previous, p.State, p.Result)
}

func phaseLine(severity, previous string, st cluster.CanaryState, result string) string {
	if previous == "" {
		previous = "(new)"
	}
	line := fmt.Sprintf("%-5s %s -> %s", severity, previous, st)
	if result != "" {
		line += " result=" + result
	}

	return line
}

// eventRecord is one flagger.canary.event record.
type eventRecord struct {
	Time     time.Time
	Severity string
	Body     string
	Type     string
	Source   string
	Count    int64
	Phase    string
	Revision string

	rec collector.LogRecord
}

func (e eventRecord) line() string {
	return eventLine(e.Source, e.Type, e.Count, e.Time, e.Body)
}

func eventLine(source, typ string, count int64, at time.Time, message string) string {
	n := "-"
	if count > 0 {
		n = strconv.FormatInt(count, 10)
	}

	return fmt.Sprintf("%-10s %-7s count=%s at=%s %q", source, typ, n, at.UTC().Format("15:04:05.000"), message)
}

// splitRecords sorts the receiver's records into phase changes and events,
// and checks what every record carries whatever its kind.
func splitRecords(t require.TestingT, records []collector.LogRecord) ([]phaseRecord, []eventRecord) {
	var phases []phaseRecord
	var events []eventRecord
	for _, rec := range records {
		lr := rec.Record
		attrs := lr.Attributes()
		name := str(attrs, attrEventName)
		assert.Equal(t, name, lr.EventName(), "event name and event.name attribute differ")

		switch name {
		case eventPhaseChange:
			p := phaseRecord{
				Time:     lr.Timestamp().AsTime(),
				Severity: lr.SeverityText(),
				Body:     lr.Body().Str(),
				Previous: str(attrs, attrPreviousPhase),
				State: cluster.CanaryState{
					Phase:        str(attrs, attrPhase),
					Weight:       integer(attrs, attrWeight),
					FailedChecks: integer(attrs, attrFailedChecks),
					Iterations:   integer(attrs, attrIterations),
					Revision:     str(attrs, attrRevision),
				},
				Result: str(attrs, attrResult),
				rec:    rec,
			}
			if d, ok := attrs.Get(attrDuration); ok {
				p.Duration, p.HasDuration = d.Double(), true
			}
			for _, key := range []string{attrPhase, attrPreviousPhase, attrWeight, attrFailedChecks, attrIterations, attrRevision} {
				_, ok := attrs.Get(key)
				assert.True(t, ok, "phase change %q has no %s", p.Body, key)
			}
			phases = append(phases, p)

		case eventCanaryEvent:
			e := eventRecord{
				Time:     lr.Timestamp().AsTime(),
				Severity: lr.SeverityText(),
				Body:     lr.Body().Str(),
				Type:     str(attrs, attrEventType),
				Source:   str(attrs, attrEventSource),
				Count:    integer(attrs, attrEventCount),
				Phase:    str(attrs, attrPhase),
				Revision: str(attrs, attrRevision),
				rec:      rec,
			}
			for key := range attrs.All() {
				assert.Contains(t, []string{
					attrEventName, attrEventType, attrEventSource, attrEventCount, attrPhase, attrRevision,
				}, key, "event %q carries an attribute Flagger gave no reason for", e.Body)
			}
			events = append(events, e)

		default:
			assert.Fail(t, "unknown record", "event.name %q, body %q", name, lr.Body().AsString())
		}
	}

	return phases, events
}

func str(attrs pcommon.Map, key string) string {
	v, ok := attrs.Get(key)
	if !ok {
		return ""
	}

	return v.AsString()
}

func integer(attrs pcommon.Map, key string) int64 {
	v, ok := attrs.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeInt {
		return 0
	}

	return v.Int()
}

func phaseLines(records []phaseRecord) []string {
	out := make([]string, len(records))
	for i, p := range records {
		out[i] = p.line()
	}

	return out
}

// expectedPhaseLines is what the receiver reports for the distinct states
// a watch saw, one after the other, when it saw all of them.
func expectedPhaseLines(states []cluster.CanaryVersion) []string {
	var out []string
	var prev cluster.CanaryState
	for i, v := range states {
		st := v.State()
		severity := phaseSeverity(st, prev)

		result := ""
		if i > 0 && st.Phase != prev.Phase {
			switch flaggerv1.CanaryPhase(st.Phase) {
			case flaggerv1.CanaryPhaseSucceeded:
				result = "succeeded"
			case flaggerv1.CanaryPhaseFailed:
				result = "failed"
			}
		}

		out = append(out, phaseLine(severity, prev.Phase, st, result))
		prev = st
	}

	return out
}

// checkPhaseRecordDetails checks what the lines leave out: the body, the
// resource, when each change is dated, and the rollout durations. states
// are the distinct states the records stand for, in the same order.
func checkPhaseRecordDetails(
	t require.TestingT,
	namespace string,
	records []phaseRecord,
	states []cluster.CanaryVersion,
) {
	for i, p := range records {
		checkCanaryResource(t, p.rec.Resource.Resource().Attributes(), namespace, appName)

		assert.Equal(t, phaseBody(namespace, p), p.Body)

		// Dated by lastTransitionTime when Flagger moved it with the
		// change, else by when the receiver saw the change.
		if i < len(states) && states[i].State() == p.State {
			v := states[i]
			prevTime := v.Created
			if i > 0 {
				prevTime = records[i-1].Time
			}
			if ltt := v.Status.LastTransitionTime.Time; ltt.After(prevTime) {
				assert.True(t, p.Time.Equal(ltt), "%q dated %s, not at lastTransitionTime %s", p.Body, p.Time, ltt)
			} else {
				assert.WithinDuration(t, v.At, p.Time, 5*time.Second, "%q dated far from when it happened", p.Body)
			}
		}

	}

	checkRolloutDurations(t, records)
}

// phaseBody is the body the contract gives a phase change.
func phaseBody(namespace string, p phaseRecord) string {
	from := ""
	if p.Previous != "" && p.Previous != p.State.Phase {
		from = p.Previous + " -> "
	}

	return fmt.Sprintf("Canary %s/%s: %s%s, weight %d%%, failed checks %d, iterations %d, revision %s",
		namespace, appName, from, p.State.Phase, p.State.Weight, p.State.FailedChecks,
		p.State.Iterations, p.State.Revision)
}

// phaseSeverity is the severity the contract gives a change from prev.
func phaseSeverity(st, prev cluster.CanaryState) string {
	switch {
	case st.Phase == string(flaggerv1.CanaryPhaseFailed):
		return "ERROR"
	case st.FailedChecks > prev.FailedChecks:
		return "WARN"
	}

	return "INFO"
}

// checkRolloutDurations checks that each record ending a rollout carries
// the seconds since the record that started it, and no other record
// carries a duration.
func checkRolloutDurations(t require.TestingT, records []phaseRecord) {
	var progressStart time.Time
	for i, p := range records {
		previous := ""
		if i > 0 {
			previous = records[i-1].State.Phase
		}
		switch {
		case inProgress(p.State.Phase) && !inProgress(previous):
			progressStart = p.Time
		case p.Result != "":
			if assert.True(t, p.HasDuration, "%q has no rollout duration", p.Body) {
				assert.InDelta(t, p.Time.Sub(progressStart).Seconds(), p.Duration, 0.001,
					"rollout duration of %q: from %s to %s", p.Body, progressStart, p.Time)
			}
		default:
			assert.False(t, p.HasDuration, "%q has a rollout duration but ends no rollout", p.Body)
		}
	}
}

func inProgress(phase string) bool {
	switch flaggerv1.CanaryPhase(phase) {
	case flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhaseWaitingPromotion,
		flaggerv1.CanaryPhasePromoting, flaggerv1.CanaryPhaseFinalising:
		return true
	}

	return false
}

// eventTime is when the latest occurrence of an Event happened, read as
// the receiver reads it.
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

// postTime is the webhook's timestamp in Unix milliseconds, or when the
// request arrived.
func postTime(req webhook.Request) time.Time {
	if ms, err := strconv.ParseInt(req.Payload.Metadata["timestamp"], 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC()
	}

	return req.At
}

// expectedEventLines is what the receiver reports for these Event
// occurrences and delivered webhooks when it saw all of them: a webhook
// and an occurrence of the same message within matchTolerance are one
// event from both sources, the rest come from one.
func expectedEventLines(occurrences []cluster.EventVersion, posts []webhook.Request) []string {
	used := make([]bool, len(occurrences))
	var out []string
	for _, req := range posts {
		msg := req.Payload.Metadata["eventMessage"]
		at := postTime(req)

		match := -1
		for i, o := range occurrences {
			if used[i] || strings.TrimPrefix(o.Event.Message, aggregatedPrefix) != msg {
				continue
			}
			if d := eventTime(o.Event).Sub(at); d <= matchTolerance && d >= -matchTolerance {
				match = i
				break
			}
		}

		if match < 0 {
			out = append(out, eventLine("webhook", req.Payload.Metadata["eventType"], 0, at, msg))
			continue
		}
		used[match] = true
		o := occurrences[match]
		out = append(out, eventLine("both", o.Event.Type, o.Count(), at, msg))
	}

	for i, o := range occurrences {
		if !used[i] {
			out = append(out, eventLine("kubernetes", o.Event.Type, o.Count(), eventTime(o.Event),
				strings.TrimPrefix(o.Event.Message, aggregatedPrefix)))
		}
	}
	sort.Strings(out)

	return out
}

func eventLines(records []eventRecord) []string {
	out := make([]string, len(records))
	for i, e := range records {
		out[i] = e.line()
	}
	sort.Strings(out)

	return out
}

// checkEventRecordDetails checks the severity, resource and phase of event
// records.
func checkEventRecordDetails(t require.TestingT, namespace string, records []eventRecord, posts []webhook.Request) {
	for _, e := range records {
		checkCanaryResource(t, e.rec.Resource.Resource().Attributes(), namespace, appName)

		want := "INFO"
		if e.Type == "Warning" {
			want = "WARN"
		}
		assert.Equal(t, want, e.Severity, "severity of %s", e.line())

		if e.Source == "kubernetes" {
			continue
		}
		// The webhook's copy says which phase Flagger was in.
		for _, req := range posts {
			if req.Payload.Metadata["eventMessage"] == e.Body && postTime(req).Equal(e.Time) {
				assert.Equal(t, string(req.Payload.Phase), e.Phase, "phase of %s", e.line())
				if e.Source == "webhook" {
					assert.Equal(t, req.Payload.Checksum, e.Revision, "revision of %s", e.line())
				}
			}
		}
	}
}

// canaryMetrics is one emission of the receiver's metrics for one Canary.
type canaryMetrics struct {
	At        time.Time
	Names     []string
	Phase     map[string]int64
	Weight    map[string]int64
	Checks    int64
	Iters     int64
	Rollouts  map[string]int64
	Durations map[string]pmetric.HistogramDataPoint
	Resource  pcommon.Map
}

// metricsOf returns each emission of a Canary's metrics, in export order.
func metricsOf(batches []pmetric.Metrics, namespace, name string) []canaryMetrics {
	var out []canaryMetrics
	for _, md := range batches {
		for _, rm := range md.ResourceMetrics().All() {
			if !resourceIs(rm.Resource().Attributes(), namespace, name) {
				continue
			}
			cm := canaryMetrics{
				Phase:     map[string]int64{},
				Weight:    map[string]int64{},
				Rollouts:  map[string]int64{},
				Durations: map[string]pmetric.HistogramDataPoint{},
				Resource:  rm.Resource().Attributes(),
			}
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					cm.Names = append(cm.Names, m.Name())
					cm.read(m)
				}
			}
			sort.Strings(cm.Names)
			out = append(out, cm)
		}
	}

	return out
}

func (cm *canaryMetrics) read(m pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			cm.At = dp.Timestamp().AsTime()
			switch m.Name() {
			case metricPhase:
				cm.Phase[str(dp.Attributes(), attrPhase)] = dp.IntValue()
			case metricWeight:
				cm.Weight[str(dp.Attributes(), attrRole)] = dp.IntValue()
			case metricFailedChecks:
				cm.Checks = dp.IntValue()
			case metricIterations:
				cm.Iters = dp.IntValue()
			}
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			if m.Name() == metricRollouts {
				cm.Rollouts[str(dp.Attributes(), attrResult)] = dp.IntValue()
			}
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			if m.Name() == metricRolloutDuration {
				cm.Durations[str(dp.Attributes(), attrResult)] = dp
			}
		}
	}
}

// checkMetricsShow checks that one emission describes a state, with the
// rollouts ended so far and their durations.
func checkMetricsShow(
	t require.TestingT,
	cm canaryMetrics,
	namespace string,
	st cluster.CanaryState,
	rollouts map[string]int64,
	durations map[string]float64,
) {
	checkCanaryResource(t, cm.Resource, namespace, appName)

	wantPhases := map[string]int64{}
	for _, p := range knownPhases {
		wantPhases[string(p)] = 0
	}
	wantPhases[st.Phase] = 1
	assert.Equal(t, wantPhases, cm.Phase, "phase gauge")
	assert.Equal(t, map[string]int64{"canary": st.Weight, "primary": 100 - st.Weight}, cm.Weight, "weight gauge")
	assert.Equal(t, st.FailedChecks, cm.Checks, "failed checks gauge")
	assert.Equal(t, st.Iterations, cm.Iters, "iterations gauge")
	assert.Equal(t, rollouts, cm.Rollouts, "rollouts sum")

	assert.Len(t, cm.Durations, len(durations), "rollout duration histograms")
	for result, sum := range durations {
		dp, ok := cm.Durations[result]
		if assert.True(t, ok, "no rollout duration for %s", result) {
			assert.Equal(t, uint64(rollouts[result]), dp.Count(), "rollout duration count for %s", result)
			assert.InDelta(t, sum, dp.Sum(), 0.001, "rollout duration sum for %s", result)
		}
	}
}

// rolloutTotals adds up the rollouts the phase records ended, and their
// durations, by result.
func rolloutTotals(records []phaseRecord) (map[string]int64, map[string]float64) {
	counts := map[string]int64{}
	durations := map[string]float64{}
	for _, p := range records {
		if p.Result == "" {
			continue
		}
		counts[p.Result]++
		if p.HasDuration {
			durations[p.Result] += p.Duration
		}
	}

	return counts, durations
}

// isSubsequence tells whether every line of sub appears in seq, in order.
func isSubsequence(sub, seq []string) bool {
	i := 0
	for _, s := range seq {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}

	return i == len(sub)
}

// absDuration is |d|.
func absDuration(d time.Duration) time.Duration {
	return time.Duration(math.Abs(float64(d)))
}
