package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

const (
	metricRolloutDuration = "flagger.canary.rollout.duration"
	attrResultName        = "flagger.canary.result"
)

// durationBounds are the histogram buckets of rollout durations, in seconds.
var durationBounds = []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400}

// buildMetrics returns the metrics of every Canary with a status, in a stable order. The
// caller holds r.mu.
func (r *flaggerReceiver) buildMetrics(now time.Time) pmetric.Metrics {
	ts := pcommon.NewTimestampFromTime(now)
	keys := make([]string, 0, len(r.tracker.states))
	for k, s := range r.tracker.states {
		if s.HasStatus {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	for _, k := range keys {
		s := r.tracker.states[k]
		if !s.PhaseOnly {
			r.mb.RecordFlaggerCanaryWeightDataPoint(ts, s.Weight, metadata.AttributeRoleCanary)
			r.mb.RecordFlaggerCanaryWeightDataPoint(ts, 100-s.Weight, metadata.AttributeRolePrimary)
			r.mb.RecordFlaggerCanaryFailedChecksDataPoint(ts, s.FailedChecks)
			r.mb.RecordFlaggerCanaryIterationsDataPoint(ts, s.Iterations)
		}
		for _, p := range knownPhases {
			r.mb.RecordFlaggerCanaryPhaseDataPoint(ts, boolInt(p == s.Phase), p)
		}
		if !isKnownPhase(s.Phase) {
			r.mb.RecordFlaggerCanaryPhaseDataPoint(ts, 1, s.Phase)
		}
		if rs := r.tracker.rollouts[k]; rs != nil {
			for _, res := range []metadata.AttributeResult{metadata.AttributeResultSucceeded, metadata.AttributeResultFailed} {
				if n, ok := rs.Count[res.String()]; ok {
					r.mb.RecordFlaggerCanaryRolloutsDataPoint(ts, n, res)
				}
			}
		}
		r.mb.EmitForResource(metadata.WithResource(r.resourceFor(s.Namespace, s.Name, s)))
	}
	md := r.mb.Emit()
	r.appendDurations(md, ts)
	return md
}

// appendDurations adds the rollout duration histograms to the resource of each Canary.
//
// Note: the generated metrics builder has no histograms, so this one is built here and cannot
// be disabled under `metrics:`.
func (r *flaggerReceiver) appendDurations(md pmetric.Metrics, ts pcommon.Timestamp) {
	if len(r.tracker.rollouts) == 0 {
		return
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		ns, _ := rm.Resource().Attributes().Get("k8s.namespace.name")
		name, _ := rm.Resource().Attributes().Get("flagger.canary.name")
		rs := r.tracker.rollouts[ns.Str()+"/"+name.Str()]
		if rs == nil || len(rs.Durations) == 0 || rm.ScopeMetrics().Len() == 0 {
			continue
		}
		m := rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
		m.SetName(metricRolloutDuration)
		m.SetDescription("How long rollouts took, from the start of progress to their end.")
		m.SetUnit("s")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, res := range []string{resultSucceeded, resultFailed} {
			hist, ok := rs.Durations[res]
			if !ok {
				continue
			}
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(r.startTime)
			dp.SetTimestamp(ts)
			dp.Attributes().PutStr(attrResultName, res)
			dp.SetCount(hist.count)
			dp.SetSum(hist.sum)
			dp.SetMin(hist.min)
			dp.SetMax(hist.max)
			dp.ExplicitBounds().FromRaw(hist.bounds)
			dp.BucketCounts().FromRaw(hist.counts)
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
