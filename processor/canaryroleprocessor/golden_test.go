package canaryroleprocessor

import (
	"context"
	"flag"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"k8s.io/client-go/dynamic"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
)

// update rewrites the golden inputs and expected outputs under testdata/:
//
//	go test -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenResources are the resources every golden input carries, one scope each.
var goldenResources = []map[string]string{
	// The primary, named by k8sattributes from its Deployment.
	{"k8s.namespace.name": "test", "k8s.deployment.name": "podinfo-primary", "service.name": "podinfo"},
	// The canary, named by k8sattributes from its Deployment.
	{"k8s.namespace.name": "test", "k8s.deployment.name": "podinfo", "service.name": "podinfo"},
	// A workload no canary rolls out.
	{"k8s.namespace.name": "test", "k8s.deployment.name": "frontend", "service.name": "frontend"},
	// The canary's name in another namespace.
	{"k8s.namespace.name": "other", "k8s.deployment.name": "podinfo"},
	// No namespace: nothing can match.
	{"k8s.deployment.name": "podinfo"},
	// The primary, from its ReplicaSet.
	{"k8s.namespace.name": "test", "k8s.replicaset.name": "podinfo-primary-7d9f8c6b5"},
	// Pod names only: a primary pod and a canary pod of Deployments.
	{"k8s.namespace.name": "test", "k8s.pod.name": "podinfo-primary-7d9f8c6b5-x2kqz"},
	{"k8s.namespace.name": "test", "k8s.pod.name": "podinfo-6b8d4c9f7-rt5zw"},
	// A pod name only, of a DaemonSet.
	{"k8s.namespace.name": "test", "k8s.pod.name": "podinfo-primary-q7w2x"},
	// Selector labels only, as Flagger rewrites them on the primary.
	{"k8s.namespace.name": "test", "k8s.pod.label.app": "podinfo-primary"},
	{"k8s.namespace.name": "test", "k8s.pod.label.app": "podinfo"},
	// The sender already said which side this is, wrongly: kept unless override is on.
	{
		"k8s.namespace.name": "test", "k8s.deployment.name": "podinfo",
		"flagger.canary.role": "primary", "flagger.canary.name": "podinfo",
	},
}

var goldenStart = pcommon.NewTimestampFromTime(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))

func fillResource(res pcommon.Resource, attrs map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		res.Attributes().PutStr(k, attrs[k])
	}
}

func buildTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	for i, attrs := range goldenResources {
		rs := td.ResourceSpans().AppendEmpty()
		fillResource(rs.Resource(), attrs)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("podinfo/http")
		span := ss.Spans().AppendEmpty()
		span.SetName("GET /healthz")
		span.SetTraceID(pcommon.TraceID{1, byte(i)})
		span.SetSpanID(pcommon.SpanID{2, byte(i)})
		span.SetStartTimestamp(goldenStart)
		span.SetEndTimestamp(goldenStart + 1_000_000)
		span.Attributes().PutStr("http.request.method", "GET")
	}
	return td
}

func buildLogs() plog.Logs {
	ld := plog.NewLogs()
	for _, attrs := range goldenResources {
		rl := ld.ResourceLogs().AppendEmpty()
		fillResource(rl.Resource(), attrs)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("podinfo/log")
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(goldenStart)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr("request served")
	}
	return ld
}

func buildMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, attrs := range goldenResources {
		rm := md.ResourceMetrics().AppendEmpty()
		fillResource(rm.Resource(), attrs)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("podinfo/http")

		requests := sm.Metrics().AppendEmpty()
		requests.SetName("http.server.requests")
		sum := requests.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, code := range []string{"200", "500"} {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(goldenStart)
			dp.SetTimestamp(goldenStart + 60_000_000_000)
			dp.Attributes().PutStr("http.response.status_code", code)
			dp.SetIntValue(42)
		}
		// A point that already carries a role keeps it unless override is on.
		preset := sum.DataPoints().AppendEmpty()
		preset.SetStartTimestamp(goldenStart)
		preset.SetTimestamp(goldenStart + 60_000_000_000)
		preset.Attributes().PutStr("http.response.status_code", "404")
		preset.Attributes().PutStr("flagger.canary.role", "sender")
		preset.SetIntValue(1)

		duration := sm.Metrics().AppendEmpty()
		duration.SetName("http.server.request.duration")
		duration.SetUnit("s")
		hist := duration.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		hdp := hist.DataPoints().AppendEmpty()
		hdp.SetStartTimestamp(goldenStart)
		hdp.SetTimestamp(goldenStart + 60_000_000_000)
		hdp.SetCount(3)
		hdp.SetSum(0.3)
		hdp.ExplicitBounds().FromRaw([]float64{0.1, 1})
		hdp.BucketCounts().FromRaw([]uint64{1, 2, 0})

		up := sm.Metrics().AppendEmpty()
		up.SetName("up")
		gdp := up.SetEmptyGauge().DataPoints().AppendEmpty()
		gdp.SetTimestamp(goldenStart + 60_000_000_000)
		gdp.SetDoubleValue(1)
	}
	return md
}

// goldenStep is one state of the canaries and the output expected in it.
type goldenStep struct {
	// change drives the fake API server before the step; nil for the first step.
	change func(t *testing.T, client dynamic.Interface)
	// ready tells when the processor has seen the change.
	ready func(*index) bool
	// expected names the file, under testdata/<signal>/, with the expected output.
	expected string
}

type goldenScenario struct {
	name     string
	config   func() *Config
	canaries []*canaryStatus // the status of test/podinfo as the fake API server starts with it
	steps    []goldenStep
}

var allStamps = StampConfig{Weight: true, Phase: true, Revision: true}

func goldenScenarios() []goldenScenario {
	static := func(override, metricLabels bool) func() *Config {
		return func() *Config {
			cfg := createDefaultConfig().(*Config)
			cfg.Canaries = []CanaryConfig{{Namespace: "test", Name: "podinfo"}}
			cfg.Override = override
			cfg.MetricLabels = metricLabels
			cfg.Stamp = allStamps // static canaries have no status to stamp
			return cfg
		}
	}
	kubernetes := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Kubernetes = configoptional.Some(KubernetesConfig{
			API: kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
		})
		cfg.Stamp = allStamps
		return cfg
	}
	weightIs := func(w int64) func(*index) bool {
		return func(idx *index) bool {
			s := idx.lookup("test", "podinfo")
			return s != nil && s.hasWeight && s.weight == w
		}
	}
	return []goldenScenario{
		{
			name:   "static",
			config: static(false, true),
			steps:  []goldenStep{{expected: "static.yaml"}},
		},
		{
			name:   "static_override",
			config: static(true, true),
			steps:  []goldenStep{{expected: "static_override.yaml"}},
		},
		{
			name:   "static_no_metric_labels",
			config: static(false, false),
			steps:  []goldenStep{{expected: "static_no_metric_labels.yaml"}},
		},
		{
			name:     "kubernetes",
			config:   kubernetes,
			canaries: []*canaryStatus{{phase: "Progressing", weight: 20, revision: "6f7c9d5b8"}},
			steps: []goldenStep{
				{ready: weightIs(20), expected: "kubernetes_progressing.yaml"},
				{
					change: func(t *testing.T, client dynamic.Interface) {
						updateCanary(t, client, canaryObject("test", "podinfo", "podinfo",
							&canaryStatus{phase: "Promoting", weight: 0, revision: "6f7c9d5b8"}))
					},
					ready:    weightIs(0),
					expected: "kubernetes_promoting.yaml",
				},
				{
					change: func(t *testing.T, client dynamic.Interface) {
						deleteCanary(t, client, "test", "podinfo")
					},
					ready:    func(idx *index) bool { return idx.lookup("test", "podinfo") == nil },
					expected: "kubernetes_deleted.yaml",
				},
			},
		},
	}
}

// goldenSignal adapts the golden run to one signal.
type goldenSignal[T any] struct {
	dir     string
	build   func() T
	read    func(string) (T, error)
	write   func(string, T) error
	compare func(expected, actual T) error
	// consume runs data through a new processor and returns what it passed on.
	create func(t *testing.T, f processor.Factory, set processor.Settings, cfg *Config) (component.Component, func(T) T)
}

func runGolden[T any](t *testing.T, sig goldenSignal[T]) {
	inputPath := filepath.Join("testdata", sig.dir, "input.yaml")
	if *update {
		require.NoError(t, sig.write(inputPath, sig.build()))
	}
	for _, sc := range goldenScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			var client dynamic.Interface = newFakeClient()
			if len(sc.canaries) > 0 {
				client = newFakeClient(canaryObject("test", "podinfo", "podinfo", sc.canaries[0]))
			}
			set := processortest.NewNopSettings(metadata.Type)
			f := newFactory(withClient(client), time.Second)
			comp, consume := sig.create(t, f, set, sc.config())
			require.NoError(t, comp.Start(context.Background(), newStatusHost()))
			defer func() { require.NoError(t, comp.Shutdown(context.Background())) }()

			for _, step := range sc.steps {
				if step.change != nil {
					step.change(t, client)
				}
				if step.ready != nil {
					waitForIndex(t, set.ID, step.ready)
				}
				input, err := sig.read(inputPath)
				require.NoError(t, err)
				actual := consume(input)

				expectedPath := filepath.Join("testdata", sig.dir, step.expected)
				if *update {
					require.NoError(t, sig.write(expectedPath, actual))
				}
				expected, err := sig.read(expectedPath)
				require.NoError(t, err)
				require.NoError(t, sig.compare(expected, actual))
			}
		})
	}
}

func TestGoldenTraces(t *testing.T) {
	runGolden(t, goldenSignal[ptrace.Traces]{
		dir:   "traces",
		build: buildTraces,
		read:  golden.ReadTraces,
		write: golden.WriteTracesToFile,
		compare: func(expected, actual ptrace.Traces) error {
			return ptracetest.CompareTraces(expected, actual)
		},
		create: func(t *testing.T, f processor.Factory, set processor.Settings, cfg *Config) (component.Component, func(ptrace.Traces) ptrace.Traces) {
			sink := new(consumertest.TracesSink)
			p, err := f.CreateTraces(context.Background(), set, cfg, sink)
			require.NoError(t, err)
			return p, func(td ptrace.Traces) ptrace.Traces {
				sink.Reset()
				require.NoError(t, p.ConsumeTraces(context.Background(), td))
				return sink.AllTraces()[0]
			}
		},
	})
}

func TestGoldenLogs(t *testing.T) {
	runGolden(t, goldenSignal[plog.Logs]{
		dir:   "logs",
		build: buildLogs,
		read:  golden.ReadLogs,
		write: golden.WriteLogsToFile,
		compare: func(expected, actual plog.Logs) error {
			return plogtest.CompareLogs(expected, actual)
		},
		create: func(t *testing.T, f processor.Factory, set processor.Settings, cfg *Config) (component.Component, func(plog.Logs) plog.Logs) {
			sink := new(consumertest.LogsSink)
			p, err := f.CreateLogs(context.Background(), set, cfg, sink)
			require.NoError(t, err)
			return p, func(ld plog.Logs) plog.Logs {
				sink.Reset()
				require.NoError(t, p.ConsumeLogs(context.Background(), ld))
				return sink.AllLogs()[0]
			}
		},
	})
}

func TestGoldenMetrics(t *testing.T) {
	runGolden(t, goldenSignal[pmetric.Metrics]{
		dir:   "metrics",
		build: buildMetrics,
		read:  golden.ReadMetrics,
		write: func(path string, md pmetric.Metrics) error {
			return golden.WriteMetricsToFile(path, md, golden.SkipMetricTimestampNormalization())
		},
		compare: func(expected, actual pmetric.Metrics) error {
			// The golden writer sorts what it writes; only the order may differ.
			return pmetrictest.CompareMetrics(expected, actual,
				pmetrictest.IgnoreResourceMetricsOrder(),
				pmetrictest.IgnoreMetricsOrder(),
				pmetrictest.IgnoreMetricDataPointsOrder(),
				pmetrictest.IgnoreDatapointAttributesOrder())
		},
		create: func(t *testing.T, f processor.Factory, set processor.Settings, cfg *Config) (component.Component, func(pmetric.Metrics) pmetric.Metrics) {
			sink := new(consumertest.MetricsSink)
			p, err := f.CreateMetrics(context.Background(), set, cfg, sink)
			require.NoError(t, err)
			return p, func(md pmetric.Metrics) pmetric.Metrics {
				sink.Reset()
				require.NoError(t, p.ConsumeMetrics(context.Background(), md))
				return sink.AllMetrics()[0]
			}
		},
	})
}
