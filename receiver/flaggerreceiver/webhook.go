package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"
)

// retryAfterSeconds is what a refused request is told to wait before trying again.
const retryAfterSeconds = "5"

// webhookPayload is the JSON Flagger posts to an event webhook. It mirrors Flagger's
// CanaryWebhookPayload, reading metadata as raw values so that a wrong type is reported
// rather than silently dropped.
type webhookPayload struct {
	Name      string                     `json:"name"`
	Namespace string                     `json:"namespace"`
	Phase     string                     `json:"phase"`
	Checksum  string                     `json:"checksum"`
	Metadata  map[string]json.RawMessage `json:"metadata"`
}

// Metadata keys Flagger sets on event webhooks.
const (
	metaMessage   = "eventMessage"
	metaType      = "eventType"
	metaTimestamp = "timestamp"
)

// webhookHandler serves Flagger's event webhook.
type webhookHandler struct {
	r    *flaggerReceiver
	path string
}

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	status, msg := h.serve(req)
	if status != http.StatusOK {
		h.r.telemetry.ReceiverFlaggerWebhookRejectedRequests.Add(req.Context(), 1)
		h.r.logger.Debug("Webhook request refused",
			zap.Int("status", status), zap.String("reason", msg), zap.String("remote", req.RemoteAddr))
	}
	switch status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// serve handles one request and returns the status and the text to answer with.
func (h *webhookHandler) serve(req *http.Request) (int, string) {
	if req.URL.Path != h.path {
		return http.StatusNotFound, "not found"
	}
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "only POST is accepted"
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, "content type must be application/json"
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit)
		}
		return http.StatusBadRequest, "failed to read request body"
	}
	ev, err := parsePayload(body, h.r.now())
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if err := h.r.onWebhookEvent(req.Context(), ev); err != nil {
		if consumererror.IsPermanent(err) {
			return http.StatusBadRequest, "the pipeline rejected the event: " + err.Error()
		}
		return http.StatusServiceUnavailable, "the pipeline cannot take the event now; retry later"
	}
	return http.StatusOK, "accepted"
}

// parsePayload reads Flagger's payload. Only event webhooks carry an event message: any
// other hook type (confirm-rollout, rollback, ...) acts on the status it gets back, so a
// request without a message is refused instead of being answered with 200.
func parsePayload(body []byte, received time.Time) (*flaggerEvent, error) {
	var p webhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	var missing []string
	if p.Name == "" {
		missing = append(missing, "name")
	}
	if p.Namespace == "" {
		missing = append(missing, "namespace")
	}
	meta := make(map[string]string, len(p.Metadata))
	for k, raw := range p.Metadata {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("metadata.%s: want a string", k)
		}
		meta[k] = s
	}
	message := meta[metaMessage]
	if message == "" {
		missing = append(missing, "metadata.eventMessage")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s: this endpoint accepts only Flagger event webhooks "+
			"(type: event or -event-webhook); other hook types act on the answer and must not point here",
			strings.Join(missing, ", "))
	}
	ev := &flaggerEvent{
		Namespace: p.Namespace,
		Name:      p.Name,
		Message:   normaliseMessage(message),
		Type:      meta[metaType],
		Time:      received,
		Phase:     p.Phase,
		Revision:  p.Checksum,
		Source:    sourceWebhook,
	}
	if ev.Type == "" {
		ev.Type = "Normal"
	}
	if ms, err := strconv.ParseInt(meta[metaTimestamp], 10, 64); err == nil && ms > 0 {
		ev.Time = time.UnixMilli(ms).UTC()
	}
	delete(meta, metaMessage)
	delete(meta, metaType)
	delete(meta, metaTimestamp)
	if len(meta) > 0 {
		ev.Metadata = meta
	}
	return ev, nil
}
