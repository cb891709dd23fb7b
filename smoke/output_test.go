package smoke

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The readers below run inside require.Eventually's condition, on another goroutine, so
// they report problems with assert (t.Errorf) rather than require (t.FailNow).

// readLines returns the complete JSON lines the file exporter wrote so far.
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if !assert.NoError(t, err) {
		return nil
	}
	lines := bytes.Split(b, []byte("\n"))
	// The last element is empty after a complete line, or a line still being written.
	return lines[:len(lines)-1]
}

func readTraces(t *testing.T, path string) []ptrace.Traces {
	t.Helper()
	var out []ptrace.Traces
	var u ptrace.JSONUnmarshaler
	for _, line := range readLines(t, path) {
		td, err := u.UnmarshalTraces(line)
		if !assert.NoError(t, err, "file exporter line: %s", line) {
			continue
		}
		out = append(out, td)
	}
	return out
}

func readMetrics(t *testing.T, path string) []pmetric.Metrics {
	t.Helper()
	var out []pmetric.Metrics
	var u pmetric.JSONUnmarshaler
	for _, line := range readLines(t, path) {
		md, err := u.UnmarshalMetrics(line)
		if !assert.NoError(t, err, "file exporter line: %s", line) {
			continue
		}
		out = append(out, md)
	}
	return out
}

func readLogs(t *testing.T, path string) []plog.Logs {
	t.Helper()
	var out []plog.Logs
	var u plog.JSONUnmarshaler
	for _, line := range readLines(t, path) {
		ld, err := u.UnmarshalLogs(line)
		if !assert.NoError(t, err, "file exporter line: %s", line) {
			continue
		}
		out = append(out, ld)
	}
	return out
}

// foundSpan is a span that came out, with its resource.
type foundSpan struct {
	resource map[string]any
	span     ptrace.Span
}

// spansByName indexes every span written so far by name.
func spansByName(t *testing.T, path string) map[string]foundSpan {
	t.Helper()
	out := map[string]foundSpan{}
	for _, td := range readTraces(t, path) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					out[span.Name()] = foundSpan{resource: rs.Resource().Attributes().AsRaw(), span: span}
				}
			}
		}
	}
	return out
}

// foundMetric is a metric that came out, with its resource.
type foundMetric struct {
	resource map[string]any
	metric   pmetric.Metric
}

// metricsNamed returns every occurrence of a metric written so far.
func metricsNamed(t *testing.T, path, name string) []foundMetric {
	t.Helper()
	var out []foundMetric
	for _, md := range readMetrics(t, path) {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == name {
						out = append(out, foundMetric{resource: rm.Resource().Attributes().AsRaw(), metric: m})
					}
				}
			}
		}
	}
	return out
}

// foundLog is a log record that came out, with its resource.
type foundLog struct {
	resource map[string]any
	record   plog.LogRecord
}

// logsWithBody returns every log record written so far whose body is body.
func logsWithBody(t *testing.T, path, body string) []foundLog {
	t.Helper()
	var out []foundLog
	for _, ld := range readLogs(t, path) {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.Body().AsString() == body {
						out = append(out, foundLog{resource: rl.Resource().Attributes().AsRaw(), record: lr})
					}
				}
			}
		}
	}
	return out
}
