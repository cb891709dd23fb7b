package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"sort"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

// Names of what the receiver emits. Everything without a semantic convention lives under
// flagger.canary.* and flagger.event.*.
const (
	attrEventName          = "event.name"
	eventPhaseChange       = "flagger.canary.phase_change"
	eventCanaryEvent       = "flagger.canary.event"
	attrPhase              = "flagger.canary.phase"
	attrPreviousPhase      = "flagger.canary.previous_phase"
	attrWeight             = "flagger.canary.weight"
	attrFailedChecks       = "flagger.canary.failed_checks"
	attrIterations         = "flagger.canary.iterations"
	attrRevision           = "flagger.canary.revision"
	attrResult             = "flagger.canary.result"
	attrDuration           = "flagger.canary.rollout.duration"
	attrEventType          = "flagger.event.type"
	attrEventSource        = "flagger.event.source"
	attrEventCount         = "flagger.event.count"
	attrWebhookMetadataPfx = "flagger.webhook.metadata."
)

// Sources of a Flagger event.
const (
	sourceKubernetes = "kubernetes"
	sourceWebhook    = "webhook"
	sourceBoth       = "both"
)

// flaggerEvent is one occurrence of a Flagger event, from either source.
type flaggerEvent struct {
	Namespace string
	Name      string
	Message   string
	// Type is Normal or Warning.
	Type string
	Time time.Time
	// Phase and Revision are set when known.
	Phase    string
	Revision string
	// Count is the Kubernetes Event's count, 0 from the webhook.
	Count int64
	// Metadata holds the webhook payload's extra metadata keys.
	Metadata map[string]string
	Source   string
}

// resourceFor fills the resource attributes of a Canary.
func (r *flaggerReceiver) resourceFor(namespace, name string, st *canaryState) pcommon.Resource {
	rb := metadata.NewResourceBuilder(r.cfg.MetricsBuilderConfig.ResourceAttributes)
	rb.SetK8sNamespaceName(namespace)
	rb.SetFlaggerCanaryName(name)
	if r.cfg.ClusterName != "" {
		rb.SetK8sClusterName(r.cfg.ClusterName)
	}
	if st != nil {
		switch st.TargetKind {
		case "Deployment":
			rb.SetK8sDeploymentName(st.TargetName)
		case "DaemonSet":
			rb.SetK8sDaemonsetName(st.TargetName)
		}
	}
	return rb.Emit()
}

// newLogs returns logs holding one empty record under the resource of a Canary.
func (r *flaggerReceiver) newLogs(namespace, name string, st *canaryState) (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	r.resourceFor(namespace, name, st).MoveTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(r.settings.BuildInfo.Version)
	return ld, sl.LogRecords().AppendEmpty()
}

func (r *flaggerReceiver) phaseChangeLogs(pc *phaseChange, observed time.Time) plog.Logs {
	s := &pc.State
	ld, lr := r.newLogs(s.Namespace, s.Name, s)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(pc.Time))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
	lr.SetEventName(eventPhaseChange)
	switch {
	case s.Phase == string(flaggerv1.CanaryPhaseFailed):
		setSeverity(lr, plog.SeverityNumberError, "ERROR")
	case pc.ChecksRising:
		setSeverity(lr, plog.SeverityNumberWarn, "WARN")
	default:
		setSeverity(lr, plog.SeverityNumberInfo, "INFO")
	}
	lr.Body().SetStr(pc.body())
	attrs := lr.Attributes()
	attrs.EnsureCapacity(10)
	attrs.PutStr(attrEventName, eventPhaseChange)
	attrs.PutStr(attrPhase, s.Phase)
	attrs.PutStr(attrPreviousPhase, pc.PreviousPhase)
	attrs.PutInt(attrWeight, s.Weight)
	attrs.PutInt(attrFailedChecks, s.FailedChecks)
	attrs.PutInt(attrIterations, s.Iterations)
	attrs.PutStr(attrRevision, s.Revision)
	if pc.Result != "" {
		attrs.PutStr(attrResult, pc.Result)
		if pc.Duration > 0 {
			attrs.PutDouble(attrDuration, pc.Duration.Seconds())
		}
	}
	return ld
}

func (r *flaggerReceiver) eventLogs(ev *flaggerEvent, st *canaryState, observed time.Time) plog.Logs {
	ld, lr := r.newLogs(ev.Namespace, ev.Name, st)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
	lr.SetEventName(eventCanaryEvent)
	if ev.Type == "Warning" {
		setSeverity(lr, plog.SeverityNumberWarn, "WARN")
	} else {
		setSeverity(lr, plog.SeverityNumberInfo, "INFO")
	}
	lr.Body().SetStr(ev.Message)
	attrs := lr.Attributes()
	attrs.EnsureCapacity(6 + len(ev.Metadata))
	attrs.PutStr(attrEventName, eventCanaryEvent)
	attrs.PutStr(attrEventType, ev.Type)
	attrs.PutStr(attrEventSource, ev.Source)
	if ev.Phase != "" {
		attrs.PutStr(attrPhase, ev.Phase)
	}
	if ev.Revision != "" {
		attrs.PutStr(attrRevision, ev.Revision)
	}
	if ev.Count > 0 {
		attrs.PutInt(attrEventCount, ev.Count)
	}
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs.PutStr(attrWebhookMetadataPfx+k, ev.Metadata[k])
	}
	return ld
}

func setSeverity(lr plog.LogRecord, n plog.SeverityNumber, text string) {
	lr.SetSeverityNumber(n)
	lr.SetSeverityText(text)
}
