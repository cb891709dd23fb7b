package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

// Attributes the processor stamps.
const (
	attrRole     = "flagger.canary.role"
	attrName     = "flagger.canary.name"
	attrWeight   = "flagger.canary.weight"
	attrPhase    = "flagger.canary.phase"
	attrRevision = "flagger.canary.revision"
)

// Options of the stamped_resources counter, built once: passing a prebuilt slice keeps the
// hot path from allocating one per call.
var (
	canaryRoleOpts  = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("role", roleCanary)))}
	primaryRoleOpts = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("role", rolePrimary)))}
)

// canaryRoleProcessor stamps telemetry for one pipeline; the index it reads may be shared
// with the processors of the same component in other pipelines.
type canaryRoleProcessor struct {
	source       *source
	telemetry    *metadata.TelemetryBuilder
	override     bool
	metricLabels bool

	// shutdownOnce makes Shutdown safe to call twice.
	shutdownOnce sync.Once
}

// counts tallies one batch, so the counters are updated once per batch.
type counts struct {
	canary    int64
	primary   int64
	unmatched int64
}

func (p *canaryRoleProcessor) record(ctx context.Context, c counts) {
	if c.canary > 0 {
		p.telemetry.ProcessorCanaryroleStampedResources.Add(ctx, c.canary, canaryRoleOpts...)
	}
	if c.primary > 0 {
		p.telemetry.ProcessorCanaryroleStampedResources.Add(ctx, c.primary, primaryRoleOpts...)
	}
	if c.unmatched > 0 {
		p.telemetry.ProcessorCanaryroleUnmatchedResources.Add(ctx, c.unmatched)
	}
}

// stampResource stamps one resource and returns the stamp that matched, or nil.
func (p *canaryRoleProcessor) stampResource(idx *index, res pcommon.Resource, c *counts) *stamp {
	attrs := res.Attributes()
	w := readWorkloadAttrs(attrs)
	s := resolve(idx, &w)
	if s == nil {
		c.unmatched++
		return nil
	}
	if s.role == roleCanary {
		c.canary++
	} else {
		c.primary++
	}
	if !p.override {
		if v, ok := attrs.Get(attrRole); ok && v.AsString() != s.role {
			// The sender says this is the other side: its word stands, and nothing that
			// describes our side (weight, name) is added to it.
			return s
		}
	}
	putStr(attrs, attrRole, s.role, p.override)
	putStr(attrs, attrName, s.canary, p.override)
	if s.hasWeight {
		putInt(attrs, attrWeight, s.weight, p.override)
	}
	if s.phase != "" {
		putStr(attrs, attrPhase, s.phase, p.override)
	}
	if s.revision != "" {
		putStr(attrs, attrRevision, s.revision, p.override)
	}
	return s
}

func (p *canaryRoleProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	idx := p.source.current.Load()
	var c counts
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		p.stampResource(idx, rss.At(i).Resource(), &c)
	}
	p.record(ctx, c)
	return td, nil
}

func (p *canaryRoleProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	idx := p.source.current.Load()
	var c counts
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		p.stampResource(idx, rls.At(i).Resource(), &c)
	}
	p.record(ctx, c)
	return ld, nil
}

func (p *canaryRoleProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	idx := p.source.current.Load()
	var c counts
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		if p.stampResource(idx, rm.Resource(), &c) == nil || !p.metricLabels {
			continue
		}
		// The data points carry what the resource ended up with, which is the sender's
		// value when override is off and the sender set one.
		role, name := effective(rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				p.labelDataPoints(ms.At(k), role, name)
			}
		}
	}
	p.record(ctx, c)
	return md, nil
}

// effective returns the role and canary name a resource carries after stamping.
func effective(attrs pcommon.Map) (role, name string) {
	if v, ok := attrs.Get(attrRole); ok {
		role = v.AsString()
	}
	if v, ok := attrs.Get(attrName); ok {
		name = v.AsString()
	}
	return role, name
}

func (p *canaryRoleProcessor) labelDataPoints(m pmetric.Metric, role, name string) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.label(dps.At(i).Attributes(), role, name)
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.label(dps.At(i).Attributes(), role, name)
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.label(dps.At(i).Attributes(), role, name)
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.label(dps.At(i).Attributes(), role, name)
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p.label(dps.At(i).Attributes(), role, name)
		}
	}
}

func (p *canaryRoleProcessor) label(attrs pcommon.Map, role, name string) {
	putStr(attrs, attrRole, role, p.override)
	putStr(attrs, attrName, name, p.override)
}

// putStr sets a string attribute unless the sender set it and override is off. It writes
// nothing when the attribute already holds the value.
func putStr(attrs pcommon.Map, key, value string, override bool) {
	if v, ok := attrs.Get(key); ok {
		if !override || (v.Type() == pcommon.ValueTypeStr && v.Str() == value) {
			return
		}
		v.SetStr(value)
		return
	}
	attrs.PutStr(key, value)
}

// putInt is putStr for integers.
func putInt(attrs pcommon.Map, key string, value int64, override bool) {
	if v, ok := attrs.Get(key); ok {
		if !override || (v.Type() == pcommon.ValueTypeInt && v.Int() == value) {
			return
		}
		v.SetInt(value)
		return
	}
	attrs.PutInt(key, value)
}
