package flaggerreceiver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensionauth/extensionauthtest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

const eventPayload = `{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"c0ffee",` +
	`"metadata":{"eventMessage":"Advance podinfo.test canary weight 10","eventType":"Normal","timestamp":"1767261601412"}}`

// rollbackPayload is what a rollback hook sends: the same JSON without the event metadata.
const rollbackPayload = `{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"c0ffee","metadata":{}}`

// extensionsHost serves the extensions a test configures.
type extensionsHost struct {
	extensions map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.extensions }

// startWebhook starts a webhook-only receiver on a free port and returns its URL.
func startWebhook(t *testing.T, next consumer.Logs, edit func(*WebhookConfig), host component.Host) string {
	t.Helper()
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = "localhost:0"
	server.MaxRequestBodySize = 1024
	wc := WebhookConfig{ServerConfig: server, Path: "/events"}
	if edit != nil {
		edit(&wc)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Webhook = configoptional.Some(wc)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, t.Name())
	r, err := newReceiver(set, cfg)
	require.NoError(t, err)
	r.setLogs(next)
	if host == nil {
		host = extensionsHost{}
	}
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return "http://" + r.webhookAddr + "/events"
}

func TestWebhookStatusCodes(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		next        consumer.Logs
		auth        bool
		wantStatus  int
		wantBody    string
		wantHeader  [2]string
		wantRecords int
	}{
		{name: "accepted", body: eventPayload, wantStatus: http.StatusOK, wantRecords: 1},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: eventPayload, wantStatus: http.StatusOK, wantRecords: 1},
		{name: "malformed json", body: `{"name":`, wantStatus: http.StatusBadRequest, wantBody: "malformed JSON"},
		{name: "other hook type", body: rollbackPayload, wantStatus: http.StatusBadRequest, wantBody: "missing metadata.eventMessage: this endpoint accepts only Flagger event webhooks"},
		{name: "no name", body: `{"namespace":"test","metadata":{"eventMessage":"x"}}`, wantStatus: http.StatusBadRequest, wantBody: "missing name"},
		{name: "metadata of wrong type", body: `{"name":"a","namespace":"b","metadata":{"eventMessage":7}}`, wantStatus: http.StatusBadRequest, wantBody: "metadata.eventMessage: want a string"},
		{name: "not post", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed, wantHeader: [2]string{"Allow", "POST"}},
		{name: "wrong path", path: "/other", body: eventPayload, wantStatus: http.StatusNotFound},
		{name: "not json", contentType: "text/plain", body: eventPayload, wantStatus: http.StatusUnsupportedMediaType},
		{name: "too large", body: `{"name":"` + strings.Repeat("x", 2048) + `"}`, wantStatus: http.StatusRequestEntityTooLarge},
		{
			name: "pipeline refuses", body: eventPayload, next: consumertest.NewErr(errors.New("memory limit reached")),
			wantStatus: http.StatusServiceUnavailable, wantHeader: [2]string{"Retry-After", retryAfterSeconds},
		},
		{
			name: "pipeline rejects for good", body: eventPayload, next: consumertest.NewErr(consumererror.NewPermanent(errors.New("bad data"))),
			wantStatus: http.StatusBadRequest, wantBody: "the pipeline rejected the event",
		},
		{name: "auth rejects", auth: true, body: eventPayload, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			next := tt.next
			if next == nil {
				next = sink
			}
			var host component.Host
			var edit func(*WebhookConfig)
			if tt.auth {
				authID := component.MustNewID("rejectall")
				host = extensionsHost{extensions: map[component.ID]component.Component{
					authID: extensionauthtest.NewErr(errors.New("no token")),
				}}
				edit = func(wc *WebhookConfig) {
					wc.ServerConfig.Auth = configoptional.Some(confighttp.AuthConfig{
						Config: configauth.Config{AuthenticatorID: authID},
					})
				}
			}
			url := startWebhook(t, next, edit, host)
			url = strings.TrimSuffix(url, "/events") + or(tt.path, "/events")
			req, err := http.NewRequest(or(tt.method, http.MethodPost), url, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", or(tt.contentType, "application/json"))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			require.Contains(t, string(body), tt.wantBody)
			if tt.wantHeader[0] != "" {
				require.Equal(t, tt.wantHeader[1], resp.Header.Get(tt.wantHeader[0]))
			}
			require.Equal(t, tt.wantRecords, sink.LogRecordCount())
		})
	}
}

// FuzzWebhook checks that no request body makes the handler panic, that every answer is
// one of the documented statuses, and that a 200 always produced exactly one record.
func FuzzWebhook(f *testing.F) {
	f.Add([]byte(eventPayload))
	f.Add([]byte(rollbackPayload))
	f.Add([]byte(`{"name":"a","namespace":"b","metadata":{"eventMessage":"m","timestamp":"-1"}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	cfg := scenarioConfig("webhook")
	r, err := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(f, err)
	sink := new(consumertest.LogsSink)
	r.setLogs(sink)
	h := &webhookHandler{r: r, path: "/events"}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := sink.LogRecordCount()
		req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			require.Equal(t, before+1, sink.LogRecordCount())
		case http.StatusBadRequest:
			require.Equal(t, before, sink.LogRecordCount())
		default:
			t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.String())
		}
	})
}
