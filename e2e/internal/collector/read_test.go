package collector

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestReadLogsSkipsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs.jsonl")

	var m plog.JSONMarshaler
	line, err := m.MarshalLogs(testLogs("first"))
	require.NoError(t, err)
	second, err := m.MarshalLogs(testLogs("second"))
	require.NoError(t, err)

	data := append(append(line, '\n'), second[:len(second)/2]...)
	require.NoError(t, os.WriteFile(path, data, 0o600))

	logs, err := ReadLogs(path)
	require.NoError(t, err)
	records := LogRecords(logs)
	require.Len(t, records, 1)
	assert.Equal(t, "first", records[0].Record.Body().Str())

	svc, ok := records[0].Resource.Resource().Attributes().Get("service.name")
	require.True(t, ok)
	assert.Equal(t, "e2e", svc.Str())
}

func TestReadMissingFile(t *testing.T) {
	logs, err := ReadLogs(filepath.Join(t.TempDir(), "absent.jsonl"))
	require.NoError(t, err)
	assert.Empty(t, logs)
}

func TestReadRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{not json\n"), 0o600))

	_, err := ReadMetrics(path)
	require.ErrorContains(t, err, "line 1")
}

func TestMetricsNamed(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Metrics().AppendEmpty().SetName("a")
	sm.Metrics().AppendEmpty().SetName("b")

	got := MetricsNamed([]pmetric.Metrics{md, md}, "b")
	require.Len(t, got, 2)
	assert.Equal(t, "b", got[0].Metric.Name())
}

func testLogs(body string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "e2e")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(body)

	return ld
}
