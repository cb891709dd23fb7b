// Package webhook serves HTTP endpoints that stand in for Flagger's webhook
// receivers, the event webhook and the analysis hooks, and a router that
// hands Flagger's event webhook to the collector of each test.
package webhook

import (
	"bytes"
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

	// Status is what the request was answered with; Answer is the body a
	// Router got back from the collector.
	Status int
	Answer string
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

	req.Status = int(s.status.Load())

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	w.WriteHeader(req.Status)
}

// Router stands between Flagger's global event webhook and the collectors
// of several tests sharing one cluster: it records every request and
// forwards it to the collector registered for the payload's namespace,
// answering with the collector's status, or 502 when there is none.
type Router struct {
	// URL is the router's base URL on loopback.
	URL string

	client *http.Client

	mu       sync.Mutex
	routes   map[string]string
	requests []Request
}

// NewRouter starts a router; it is closed when the test ends.
func NewRouter(t testing.TB) *Router {
	t.Helper()

	r := &Router{
		client: &http.Client{Timeout: 30 * time.Second},
		routes: map[string]string{},
	}

	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL

	return r
}

// Route sends the events of a namespace to url; an empty url stops them.
func (r *Router) Route(namespace, url string) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if url == "" {
		delete(r.routes, namespace)
		return
	}
	r.routes[namespace] = url
}

// Requests returns the requests about a namespace received so far, oldest
// first.
func (r *Router) Requests(namespace string) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()

	var out []Request
	for _, req := range r.requests {
		if req.Payload.Namespace == namespace {
			out = append(out, req)
		}
	}

	return out
}

func (r *Router) serve(w http.ResponseWriter, hr *http.Request) {
	body, _ := io.ReadAll(hr.Body)

	req := Request{At: time.Now(), Body: body}
	req.DecodeErr = json.Unmarshal(body, &req.Payload)

	r.mu.Lock()
	target := r.routes[req.Payload.Namespace]
	r.mu.Unlock()

	req.Status = http.StatusBadGateway
	if target != "" {
		req.Status, req.Answer = r.forward(hr, target, body)
	}

	r.mu.Lock()
	r.requests = append(r.requests, req)
	r.mu.Unlock()

	w.WriteHeader(req.Status)
}

func (r *Router) forward(hr *http.Request, target string, body []byte) (int, string) {
	out, err := http.NewRequestWithContext(hr.Context(), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, err.Error()
	}
	out.Header.Set("Content-Type", hr.Header.Get("Content-Type"))

	resp, err := r.client.Do(out)
	if err != nil {
		return http.StatusBadGateway, err.Error()
	}
	defer resp.Body.Close()

	answer, _ := io.ReadAll(resp.Body)

	return resp.StatusCode, string(bytes.TrimSpace(answer))
}
