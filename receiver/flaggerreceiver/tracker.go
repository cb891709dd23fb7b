package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"fmt"
	"slices"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

// knownPhases are the phases of the Flagger release the receiver was written against, in the
// order Flagger moves through them. The phase gauge reports each of them, 0 or 1.
var knownPhases = []string{
	string(flaggerv1.CanaryPhaseInitializing),
	string(flaggerv1.CanaryPhaseInitialized),
	string(flaggerv1.CanaryPhaseWaiting),
	string(flaggerv1.CanaryPhaseProgressing),
	string(flaggerv1.CanaryPhaseWaitingPromotion),
	string(flaggerv1.CanaryPhasePromoting),
	string(flaggerv1.CanaryPhaseFinalising),
	string(flaggerv1.CanaryPhaseSucceeded),
	string(flaggerv1.CanaryPhaseFailed),
	string(flaggerv1.CanaryPhaseTerminating),
	string(flaggerv1.CanaryPhaseTerminated),
}

const (
	resultSucceeded = "succeeded"
	resultFailed    = "failed"
)

// inProgress tells whether a phase belongs to a rollout under way.
func inProgress(phase string) bool {
	switch flaggerv1.CanaryPhase(phase) {
	case flaggerv1.CanaryPhaseProgressing, flaggerv1.CanaryPhaseWaitingPromotion,
		flaggerv1.CanaryPhasePromoting, flaggerv1.CanaryPhaseFinalising:
		return true
	}
	return false
}

// rolloutResult returns the result a phase ends a rollout with, or "".
func rolloutResult(phase string) string {
	switch flaggerv1.CanaryPhase(phase) {
	case flaggerv1.CanaryPhaseSucceeded:
		return resultSucceeded
	case flaggerv1.CanaryPhaseFailed:
		return resultFailed
	}
	return ""
}

func isKnownPhase(phase string) bool {
	return slices.Contains(knownPhases, phase)
}

// canaryState is what the receiver last reported about one Canary. It is also the checkpoint
// format, so its JSON names must stay stable.
type canaryState struct {
	UID        string `json:"uid,omitempty"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	TargetKind string `json:"target_kind,omitempty"`
	TargetName string `json:"target_name,omitempty"`
	// HasStatus is false while Flagger has not written a status yet.
	HasStatus bool `json:"has_status"`
	// PhaseOnly is set when only the phase is known (from the webhook).
	PhaseOnly    bool   `json:"phase_only,omitempty"`
	Phase        string `json:"phase,omitempty"`
	Weight       int64  `json:"weight"`
	FailedChecks int64  `json:"failed_checks"`
	Iterations   int64  `json:"iterations"`
	Revision     string `json:"revision,omitempty"`
	// Changed is when the reported values last changed.
	Changed time.Time `json:"changed"`
	// ProgressStart is when the rollout under way started; zero when none is.
	ProgressStart time.Time `json:"progress_start,omitzero"`
}

func (s *canaryState) key() string {
	return s.Namespace + "/" + s.Name
}

func (s *canaryState) sameValues(c *kube.Canary) bool {
	return s.HasStatus == c.HasStatus && s.Phase == c.Phase && s.Weight == c.Weight &&
		s.FailedChecks == c.FailedChecks && s.Iterations == c.Iterations && s.Revision == c.Revision
}

// phaseChange is one real change of a Canary's status.
type phaseChange struct {
	State         canaryState
	PreviousPhase string
	Time          time.Time
	// ChecksRising is true when failed checks went up.
	ChecksRising bool
	// Result is set when the change ends a rollout.
	Result string
	// Duration is how long the ended rollout took; zero when its start is unknown.
	Duration time.Duration
}

// body is the human-readable text of the change.
func (pc *phaseChange) body() string {
	s := &pc.State
	from := ""
	if pc.PreviousPhase != "" && pc.PreviousPhase != s.Phase {
		from = pc.PreviousPhase + " -> "
	}
	return fmt.Sprintf("Canary %s: %s%s, weight %d%%, failed checks %d, iterations %d, revision %s",
		s.key(), from, s.Phase, s.Weight, s.FailedChecks, s.Iterations, s.Revision)
}

// rolloutStats are the cumulative rollout results of one Canary since the receiver started.
type rolloutStats struct {
	Count     map[string]int64
	Durations map[string]*histogram
}

// tracker turns successive observations of Canaries into real changes. It is not safe for
// concurrent use; the receiver serialises access.
type tracker struct {
	// baseline: objects that last changed before it are taken as already reported.
	baseline time.Time
	states   map[string]*canaryState
	rollouts map[string]*rolloutStats
	bounds   []float64
}

func newTracker(baseline time.Time, bounds []float64) *tracker {
	return &tracker{
		baseline: baseline.Truncate(time.Second),
		states:   map[string]*canaryState{},
		rollouts: map[string]*rolloutStats{},
		bounds:   bounds,
	}
}

// restore loads the states of a checkpoint and moves the baseline to when it was written.
func (t *tracker) restore(states map[string]*canaryState, written time.Time) {
	for k, s := range states {
		t.states[k] = s
	}
	if !written.IsZero() {
		t.baseline = written.Truncate(time.Second)
	}
}

// observe records the current version of a Canary. It returns the change to report, or nil
// when nothing that the receiver reports has changed.
func (t *tracker) observe(c *kube.Canary, now time.Time) *phaseChange {
	key := c.Key()
	prev, seen := t.states[key]
	if seen && prev.UID != "" && c.UID != "" && prev.UID != c.UID {
		// The Canary was deleted and created again while nobody watched.
		seen = false
	}
	next := &canaryState{
		UID:          c.UID,
		Namespace:    c.Namespace,
		Name:         c.Name,
		TargetKind:   c.TargetKind,
		TargetName:   c.TargetName,
		HasStatus:    c.HasStatus,
		Phase:        c.Phase,
		Weight:       c.Weight,
		FailedChecks: c.FailedChecks,
		Iterations:   c.Iterations,
		Revision:     c.Revision,
	}
	if !seen {
		next.Changed = c.LastTransitionTime
		if next.Changed.IsZero() {
			next.Changed = c.Created
		}
		t.states[key] = next
		if inProgress(next.Phase) {
			next.ProgressStart = next.Changed
		}
		if !c.HasStatus || (c.Created.Before(t.baseline) && next.Changed.Before(t.baseline)) {
			// Known before this receiver started, or nothing to say yet.
			return nil
		}
		return &phaseChange{State: *next, Time: next.Changed}
	}

	// Targets may be edited without a status change; keep them current either way.
	prev.TargetKind, prev.TargetName, prev.UID = c.TargetKind, c.TargetName, c.UID
	if prev.sameValues(c) || !c.HasStatus {
		return nil
	}

	when := now
	if c.LastTransitionTime.After(prev.Changed) {
		when = c.LastTransitionTime
	}
	next.Changed = when
	next.ProgressStart = prev.ProgressStart
	change := &phaseChange{
		PreviousPhase: prev.Phase,
		Time:          when,
		ChecksRising:  c.FailedChecks > prev.FailedChecks,
	}
	switch {
	case inProgress(next.Phase) && !inProgress(prev.Phase):
		next.ProgressStart = when
	case next.Phase != prev.Phase && prev.HasStatus && rolloutResult(next.Phase) != "":
		change.Result = rolloutResult(next.Phase)
		if !prev.ProgressStart.IsZero() && when.After(prev.ProgressStart) {
			change.Duration = when.Sub(prev.ProgressStart)
		}
		t.recordRollout(key, change.Result, change.Duration)
		next.ProgressStart = time.Time{}
	case !inProgress(next.Phase):
		next.ProgressStart = time.Time{}
	}
	change.State = *next
	t.states[key] = next
	return change
}

// observePhase records a phase learned without the rest of the status (from the webhook).
// It feeds the metrics only: the webhook does not carry enough to describe a change.
func (t *tracker) observePhase(namespace, name, phase string, when time.Time) {
	key := namespace + "/" + name
	prev, seen := t.states[key]
	if !seen {
		t.states[key] = &canaryState{
			Namespace: namespace,
			Name:      name,
			HasStatus: true,
			PhaseOnly: true,
			Phase:     phase,
			Changed:   when,
		}
		if inProgress(phase) {
			t.states[key].ProgressStart = when
		}
		return
	}
	if prev.Phase == phase {
		return
	}
	switch {
	case inProgress(phase) && !inProgress(prev.Phase):
		prev.ProgressStart = when
	case rolloutResult(phase) != "" && prev.Phase != "":
		var d time.Duration
		if !prev.ProgressStart.IsZero() && when.After(prev.ProgressStart) {
			d = when.Sub(prev.ProgressStart)
		}
		t.recordRollout(key, rolloutResult(phase), d)
		prev.ProgressStart = time.Time{}
	}
	prev.Phase, prev.Changed, prev.HasStatus = phase, when, true
}

func (t *tracker) recordRollout(key, result string, d time.Duration) {
	rs, ok := t.rollouts[key]
	if !ok {
		rs = &rolloutStats{Count: map[string]int64{}, Durations: map[string]*histogram{}}
		t.rollouts[key] = rs
	}
	rs.Count[result]++
	if d <= 0 {
		return
	}
	h, ok := rs.Durations[result]
	if !ok {
		h = newHistogram(t.bounds)
		rs.Durations[result] = h
	}
	h.observe(d.Seconds())
}

// remove forgets a deleted Canary, so its series stop.
func (t *tracker) remove(key string) {
	delete(t.states, key)
	delete(t.rollouts, key)
}

// state returns what is known of a Canary, or nil.
func (t *tracker) state(namespace, name string) *canaryState {
	return t.states[namespace+"/"+name]
}

// histogram is an explicit-bucket histogram of rollout durations in seconds.
type histogram struct {
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64
	min    float64
	max    float64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if h.count == 0 || v > h.max {
		h.max = v
	}
	h.count++
	h.sum += v
}
