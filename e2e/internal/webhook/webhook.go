// Package webhook serves HTTP endpoints that stand in for Flagger's webhook
// receivers: the event webhook and the analysis hooks.
package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
)

// Request is one POST the server received.
type Request struct {
	// At is when it arrived.
	At time.Time

	// Body is the raw request body.
	Body []byte

	// Payload is Body decoded; zero if it did not decode.
	Payload flaggerv1.CanaryWebhookPayload

	// DecodeErr is why Body did not decode, if it did not.
	DecodeErr error
}

// Server records every request and answers with a status that the test can
// change.
type Server struct {
	// URL is the server's base URL on loopback.
	URL string

	status atomic.Int32

	mu       sync.Mutex
	requests []Request
}

// NewServer starts a server answering status; it is closed when the test
// ends.
func NewServer(t testing.TB, status int) *Server {
	t.Helper()

	s := &Server{}
	s.status.Store(int32(status))

	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL

	return s
}

// SetStatus changes the status of later answers.
func (s *Server) SetStatus(status int) {
	s.status.Store(int32(status))
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()

	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)

	req := Request{At: time.Now(), Body: body}
	req.DecodeErr = json.Unmarshal(body, &req.Payload)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	w.WriteHeader(int(s.status.Load()))
}
