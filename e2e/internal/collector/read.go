package collector

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ReadLogs decodes a file exporter's JSON output. A missing file reads as
// no data, and a last line still being written is left for the next read.
func ReadLogs(path string) ([]plog.Logs, error) {
	var u plog.JSONUnmarshaler

	return readLines(path, u.UnmarshalLogs)
}

// ReadMetrics is ReadLogs for metrics.
func ReadMetrics(path string) ([]pmetric.Metrics, error) {
	var u pmetric.JSONUnmarshaler

	return readLines(path, u.UnmarshalMetrics)
}

// ReadTraces is ReadLogs for traces.
func ReadTraces(path string) ([]ptrace.Traces, error) {
	var u ptrace.JSONUnmarshaler

	return readLines(path, u.UnmarshalTraces)
}

func readLines[T any](path string, unmarshal func([]byte) (T, error)) ([]T, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read exported data: %w", err)
	}

	// Only complete lines: the exporter may be writing the last one.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	} else {
		return nil, nil
	}

	var out []T
	for n, line := range bytes.Split(data, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}

		v, err := unmarshal(line)
		if err != nil {
			return nil, fmt.Errorf("decode line %d of %s: %w", n+1, path, err)
		}
		out = append(out, v)
	}

	return out, nil
}

// Logs returns every logs batch exported so far.
func (c *Collector) Logs(t testing.TB) []plog.Logs {
	t.Helper()

	logs, err := ReadLogs(c.LogsPath)
	require.NoError(t, err)

	return logs
}

// Metrics returns every metrics batch exported so far.
func (c *Collector) Metrics(t testing.TB) []pmetric.Metrics {
	t.Helper()

	metrics, err := ReadMetrics(c.MetricsPath)
	require.NoError(t, err)

	return metrics
}

// Traces returns every traces batch exported so far.
func (c *Collector) Traces(t testing.TB) []ptrace.Traces {
	t.Helper()

	traces, err := ReadTraces(c.TracesPath)
	require.NoError(t, err)

	return traces
}

// LogRecord is one exported log record with the resource and scope it came
// under.
type LogRecord struct {
	Resource plog.ResourceLogs
	Scope    plog.ScopeLogs
	Record   plog.LogRecord
}

// LogRecords flattens batches into their records, in export order.
func LogRecords(batches []plog.Logs) []LogRecord {
	var out []LogRecord
	for _, ld := range batches {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, LogRecord{Resource: rl, Scope: sl, Record: lr})
				}
			}
		}
	}

	return out
}

// Metric is one exported metric with the resource and scope it came under.
type Metric struct {
	Resource pmetric.ResourceMetrics
	Scope    pmetric.ScopeMetrics
	Metric   pmetric.Metric
}

// MetricsNamed flattens batches into the metrics called name, in export
// order.
func MetricsNamed(batches []pmetric.Metrics, name string) []Metric {
	var out []Metric
	for _, md := range batches {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == name {
						out = append(out, Metric{Resource: rm, Scope: sm, Metric: m})
					}
				}
			}
		}
	}

	return out
}

// EventuallyLogRecords waits until check passes on all log records exported
// so far, and returns them.
func (c *Collector) EventuallyLogRecords(
	t testing.TB,
	timeout time.Duration,
	check func(ct *assert.CollectT, records []LogRecord),
) []LogRecord {
	t.Helper()

	var records []LogRecord
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		logs, err := ReadLogs(c.LogsPath)
		if !assert.NoError(ct, err) {
			return
		}
		records = LogRecords(logs)
		check(ct, records)
	}, timeout, 200*time.Millisecond)

	return records
}

// EventuallyMetrics waits until check passes on all metrics batches
// exported so far, and returns them.
func (c *Collector) EventuallyMetrics(
	t testing.TB,
	timeout time.Duration,
	check func(ct *assert.CollectT, batches []pmetric.Metrics),
) []pmetric.Metrics {
	t.Helper()

	var batches []pmetric.Metrics
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		batches, err = ReadMetrics(c.MetricsPath)
		if !assert.NoError(ct, err) {
			return
		}
		check(ct, batches)
	}, timeout, 200*time.Millisecond)

	return batches
}
