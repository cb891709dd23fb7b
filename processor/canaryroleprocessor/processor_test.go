package canaryroleprocessor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	k8stesting "k8s.io/client-go/testing"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadata"
	"github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor/internal/metadatatest"
)

func kubernetesConfig(static ...CanaryConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Kubernetes = configoptional.Some(KubernetesConfig{
		API: kube.APIConfig{AuthType: kube.AuthTypeServiceAccount},
	})
	cfg.Canaries = static
	cfg.Stamp = StampConfig{Weight: true, Phase: true}
	return cfg
}

// oneResource is a batch with a single resource of the given workload in namespace test.
func oneResource(deployment string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("k8s.namespace.name", "test")
	rs.Resource().Attributes().PutStr("k8s.deployment.name", deployment)
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("op")
	return td
}

func roleOf(t *testing.T, td ptrace.Traces) string {
	t.Helper()
	v, ok := td.ResourceSpans().At(0).Resource().Attributes().Get(attrRole)
	if !ok {
		return ""
	}
	return v.Str()
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	f := newFactory(withClient(newFakeClient()), time.Second)
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type),
		kubernetesConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))

	p, err = f.CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type),
		kubernetesConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestSignalsShareOneWatch(t *testing.T) {
	client := newFakeClient(canaryObject("test", "podinfo", "podinfo", nil))
	var clients atomic.Int32
	newClient := func(kube.APIConfig) (dynamic.Interface, error) {
		clients.Add(1)
		return client, nil
	}
	f := newFactory(newClient, time.Second)
	set := processortest.NewNopSettings(metadata.Type)
	cfg := kubernetesConfig()

	traces, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	metrics, err := f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	logs, err := f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	for _, c := range []component.Component{traces, metrics, logs} {
		require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	}
	assert.Equal(t, int32(1), clients.Load())

	// The watch outlives the first processors to stop.
	require.NoError(t, traces.Shutdown(context.Background()))
	require.NoError(t, metrics.Shutdown(context.Background()))
	updateCanary(t, client, canaryObject("test", "podinfo", "podinfo",
		&canaryStatus{phase: "Progressing", weight: 10}))
	waitForIndex(t, set.ID, func(idx *index) bool {
		s := idx.lookup("test", "podinfo")
		return s != nil && s.weight == 10
	})
	require.NoError(t, logs.Shutdown(context.Background()))

	sources.mu.Lock()
	defer sources.mu.Unlock()
	assert.Empty(t, sources.sources, "the last shutdown releases the source")
}

func TestUnreachableAPIServer(t *testing.T) {
	client := newFakeClient(canaryObject("test", "podinfo", "podinfo",
		&canaryStatus{phase: "Progressing", weight: 40}))
	var down atomic.Bool
	down.Store(true)
	client.PrependReactor("list", "canaries", func(k8stesting.Action) (bool, runtime.Object, error) {
		if down.Load() {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})

	f := newFactory(withClient(client), 200*time.Millisecond)
	set := processortest.NewNopSettings(metadata.Type)
	sink := new(consumertest.TracesSink)
	p, err := f.CreateTraces(context.Background(), set,
		kubernetesConfig(CanaryConfig{Namespace: "test", Name: "backend"}), sink)
	require.NoError(t, err)
	host := newStatusHost()
	require.NoError(t, p.Start(context.Background(), host), "an unreachable API server must not stop the collector")
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, host.statuses())

	// Static canaries work meanwhile.
	require.NoError(t, p.ConsumeTraces(context.Background(), oneResource("backend-primary")))
	require.NoError(t, p.ConsumeTraces(context.Background(), oneResource("podinfo")))
	assert.Equal(t, rolePrimary, roleOf(t, sink.AllTraces()[0]))
	assert.Empty(t, roleOf(t, sink.AllTraces()[1]))

	down.Store(false)
	require.Eventually(t, func() bool {
		st := host.statuses()
		return len(st) == 2 && st[1] == componentstatus.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	waitForIndex(t, set.ID, func(idx *index) bool { return idx.lookup("test", "podinfo") != nil })
	require.NoError(t, p.ConsumeTraces(context.Background(), oneResource("podinfo")))
	assert.Equal(t, roleCanary, roleOf(t, sink.AllTraces()[2]))
}

func TestClientFailureIsFatal(t *testing.T) {
	f := newFactory(func(kube.APIConfig) (dynamic.Interface, error) {
		return nil, errors.New("not in a cluster")
	}, time.Second)
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type),
		kubernetesConfig(), consumertest.NewNop())
	require.NoError(t, err)
	host := newStatusHost()
	require.ErrorContains(t, p.Start(context.Background(), host), "not in a cluster")
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusPermanentError}, host.statuses())
	require.NoError(t, p.Shutdown(context.Background()))
}

func TestTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()

	malformed := canaryObject("test", "podinfo", "podinfo", nil)
	malformed.Object["status"] = map[string]any{"canaryWeight": "twenty", "phase": "Progressing"}
	client := newFakeClient(malformed)

	f := newFactory(withClient(client), time.Second)
	set := metadatatest.NewSettings(tel)
	p, err := f.CreateTraces(context.Background(), set, kubernetesConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	// The malformed Canary is counted and still used as far as it can be read.
	waitForIndex(t, set.ID, func(idx *index) bool {
		s := idx.lookup("test", "podinfo")
		return s != nil && s.phase == "Progressing"
	})
	metadatatest.AssertEqualProcessorCanaryroleMalformedCanaries(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())

	td := oneResource("podinfo")
	oneResource("podinfo-primary").ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	oneResource("podinfo-primary").ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	oneResource("frontend").ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	require.NoError(t, p.ConsumeTraces(context.Background(), td))

	metadatatest.AssertEqualProcessorCanaryroleStampedResources(t, tel,
		[]metricdata.DataPoint[int64]{
			{Value: 1, Attributes: attribute.NewSet(attribute.String("role", roleCanary))},
			{Value: 2, Attributes: attribute.NewSet(attribute.String("role", rolePrimary))},
		}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCanaryroleUnmatchedResources(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

func TestNoAllocationWhenAlreadyStamped(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Canaries = []CanaryConfig{{Namespace: "test", Name: "podinfo"}}
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	p, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	sources.mu.Lock()
	src := sources.sources[set.ID]
	sources.mu.Unlock()
	proc := &canaryRoleProcessor{source: src, telemetry: src.telemetry, metricLabels: true}

	td := oneResource("podinfo")
	_, err = proc.processTraces(context.Background(), td)
	require.NoError(t, err)
	require.Equal(t, roleCanary, roleOf(t, td))

	allocs := testing.AllocsPerRun(100, func() {
		_, _ = proc.processTraces(context.Background(), td)
	})
	assert.Zero(t, allocs)
}
