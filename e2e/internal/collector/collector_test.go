package collector

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// TestRoundTrip runs the real binary with an OTLP receiver and checks that
// what it receives comes back out of the file exporters.
func TestRoundTrip(t *testing.T) {
	bin := RequireBin(t)

	port, err := FreePort()
	require.NoError(t, err)

	c := Start(t, Options{
		Bin: bin,
		Receivers: map[string]any{
			"otlp": map[string]any{
				"protocols": map[string]any{
					"http": map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", port)},
				},
			},
		},
		Logs:    &Pipeline{Receivers: []string{"otlp"}},
		Metrics: &Pipeline{Receivers: []string{"otlp"}},
	})

	var lm plog.JSONMarshaler
	body, err := lm.MarshalLogs(testLogs("hello"))
	require.NoError(t, err)
	postOTLP(t, fmt.Sprintf("http://127.0.0.1:%d/v1/logs", port), body)

	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("e2e.gauge")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(7)
	var mm pmetric.JSONMarshaler
	body, err = mm.MarshalMetrics(md)
	require.NoError(t, err)
	postOTLP(t, fmt.Sprintf("http://127.0.0.1:%d/v1/metrics", port), body)

	records := c.EventuallyLogRecords(t, 10*time.Second, func(ct *assert.CollectT, records []LogRecord) {
		assert.Len(ct, records, 1)
	})
	assert.Equal(t, "hello", records[0].Record.Body().Str())

	c.EventuallyMetrics(t, 10*time.Second, func(ct *assert.CollectT, batches []pmetric.Metrics) {
		got := MetricsNamed(batches, "e2e.gauge")
		if assert.Len(ct, got, 1) {
			assert.Equal(ct, int64(7), got[0].Metric.Gauge().DataPoints().At(0).IntValue())
		}
	})
}

func postOTLP(t *testing.T, url string, body []byte) {
	t.Helper()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")

	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
