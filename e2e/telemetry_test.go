package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/collector"
)

// sendTelemetry sends one trace, metric or log with telemetrygen, as a pod
// would through the OTel SDK: the pod's namespace and name on the resource.
func sendTelemetry(t *testing.T, tool, signal, endpoint, namespace, pod string) {
	t.Helper()

	args := []string{
		signal,
		"--otlp-endpoint", endpoint,
		"--otlp-insecure",
		"--service", appName,
		"--otlp-attributes", fmt.Sprintf("k8s.namespace.name=%q", namespace),
		"--otlp-attributes", fmt.Sprintf("k8s.pod.name=%q", pod),
		"--" + signal, "1",
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	require.NoError(t, err, "telemetrygen %s:\n%s", strings.Join(args, " "), out)
}

// checkStamped checks that every resource the application pipelines
// exported carries exactly the Canary attributes wanted for its pod, on the
// resource and on every metric data point, and that each pod's traces,
// metrics and logs all came out.
func checkStamped(t require.TestingT, r *run, namespace string, want map[string]map[string]any) {
	seen := map[string]bool{}
	check := func(signal string, res pcommon.Resource) {
		attrs := res.Attributes()
		pod := str(attrs, "k8s.pod.name")
		stamped, ok := want[pod]
		if !assert.True(t, ok, "%s from an unknown pod %q", signal, pod) {
			return
		}
		seen[signal+" "+pod] = true

		assert.Equal(t, namespace, str(attrs, attrNamespace), "namespace of %s from %s", signal, pod)
		assert.Equal(t, stamped, canaryAttributes(attrs), "Canary attributes of the %s resource from %s", signal, pod)
	}

	traces, err := collector.ReadTraces(r.col.OutputPath(tracesApp))
	require.NoError(t, err)
	for _, td := range traces {
		for _, rs := range td.ResourceSpans().All() {
			check("traces", rs.Resource())
		}
	}

	logs, err := collector.ReadLogs(r.col.OutputPath(logsApp))
	require.NoError(t, err)
	for _, ld := range logs {
		for _, rl := range ld.ResourceLogs().All() {
			check("logs", rl.Resource())
		}
	}

	metrics, err := collector.ReadMetrics(r.col.OutputPath(metricsApp))
	require.NoError(t, err)
	for _, md := range metrics {
		for _, rm := range md.ResourceMetrics().All() {
			check("metrics", rm.Resource())

			pod := str(rm.Resource().Attributes(), "k8s.pod.name")
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					for _, dp := range dataPointAttributes(m) {
						assert.Equal(t, want[pod], canaryAttributes(dp),
							"Canary attributes of a %s data point from %s", m.Name(), pod)
					}
				}
			}
		}
	}

	for pod := range want {
		for _, signal := range []string{"traces", "metrics", "logs"} {
			assert.True(t, seen[signal+" "+pod], "no %s from %s", signal, pod)
		}
	}
}

// canaryAttributes returns the flagger.canary.* attributes of a map.
func canaryAttributes(attrs pcommon.Map) map[string]any {
	out := map[string]any{}
	for k, v := range attrs.All() {
		if strings.HasPrefix(k, "flagger.canary.") {
			out[k] = v.AsRaw()
		}
	}

	return out
}

func dataPointAttributes(m pmetric.Metric) []pcommon.Map {
	var out []pcommon.Map
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			out = append(out, dp.Attributes())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			out = append(out, dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			out = append(out, dp.Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			out = append(out, dp.Attributes())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			out = append(out, dp.Attributes())
		}
	}

	return out
}
