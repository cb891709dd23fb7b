package e2e

import (
	"strconv"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/webhook"
)

// These tests hold the scenarios' expectations to the output contract
// without a cluster.

func version(phase flaggerv1.CanaryPhase, failed, iterations int) cluster.CanaryVersion {
	return cluster.CanaryVersion{
		HasStatus: true,
		Status: flaggerv1.CanaryStatus{
			Phase:           phase,
			FailedChecks:    failed,
			Iterations:      iterations,
			LastAppliedSpec: "abc",
		},
	}
}

func TestExpectedPhaseLines(t *testing.T) {
	states := cluster.States([]cluster.CanaryVersion{
		{},
		version(flaggerv1.CanaryPhaseProgressing, 0, 0),
		version(flaggerv1.CanaryPhaseProgressing, 0, 0), // a rewrite
		version(flaggerv1.CanaryPhaseProgressing, 1, 0),
		version(flaggerv1.CanaryPhaseProgressing, 1, 1),
		version(flaggerv1.CanaryPhaseFailed, 0, 0),
	})

	assert.Equal(t, []string{
		"INFO  (new) -> Progressing w=0 f=0 i=0 rev=abc",
		"WARN  Progressing -> Progressing w=0 f=1 i=0 rev=abc",
		"INFO  Progressing -> Progressing w=0 f=1 i=1 rev=abc",
		"ERROR Progressing -> Failed w=0 f=0 i=0 rev=abc result=failed",
	}, expectedPhaseLines(states))
}

func TestExpectedEventLines(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	event := func(uid, message string, count int32, when time.Time) cluster.EventVersion {
		return cluster.EventVersion{Event: &corev1.Event{
			ObjectMeta:    metav1.ObjectMeta{UID: types.UID(uid)},
			Message:       message,
			Type:          "Normal",
			Count:         count,
			LastTimestamp: metav1.NewTime(when),
		}}
	}
	post := func(message string, when time.Time) webhook.Request {
		var req webhook.Request
		req.Payload.Metadata = map[string]string{
			"eventMessage": message,
			"eventType":    "Normal",
			"timestamp":    strconv.FormatInt(when.UnixMilli(), 10),
		}
		return req
	}

	got := expectedEventLines(
		[]cluster.EventVersion{
			event("1", "New revision detected!", 1, at),
			event("2", aggregatedPrefix+"Advance iteration 1/3", 11, at.Add(10*time.Second)),
			event("3", "only in the API", 1, at.Add(20*time.Second)),
		},
		[]webhook.Request{
			post("New revision detected!", at.Add(300*time.Millisecond)),
			post("Advance iteration 1/3", at.Add(10*time.Second+time.Second)),
			post("only posted", at.Add(30*time.Second)),
			post("New revision detected!", at.Add(5*time.Second)), // too late to be the same
		},
	)

	assert.Equal(t, []string{
		`both       Normal  count=1 at=03:04:05.300 "New revision detected!"`,
		`both       Normal  count=11 at=03:04:16.000 "Advance iteration 1/3"`,
		`kubernetes Normal  count=1 at=03:04:25.000 "only in the API"`,
		`webhook    Normal  count=- at=03:04:10.000 "New revision detected!"`,
		`webhook    Normal  count=- at=03:04:35.000 "only posted"`,
	}, got)
}

func TestIsSubsequenceCatchesRepeats(t *testing.T) {
	states := []string{"A", "B", "C"}

	assert.True(t, isSubsequence([]string{"A", "C"}, states), "a state skipped during a gap")
	assert.False(t, isSubsequence([]string{"A", "B", "B"}, states), "a state repeated")
	assert.False(t, isSubsequence([]string{"A", "B", "A"}, states), "an old state reported again")
	assert.False(t, isSubsequence([]string{"B", "A"}, states), "out of order")
}

func TestUncovered(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	w := window{from: at, to: at.Add(10 * time.Second)}

	assert.Equal(t, 10*time.Second, uncovered(w, nil))
	assert.Equal(t, 7*time.Second, uncovered(w, []window{{from: at.Add(-time.Second), to: at.Add(3 * time.Second)}}))
	assert.Equal(t, time.Duration(0), uncovered(w, []window{{from: at, to: at.Add(time.Minute)}}))
	assert.Equal(t, 4*time.Second, intersect(w, window{from: at.Add(6 * time.Second)}).to.Sub(at.Add(6*time.Second)))
}
