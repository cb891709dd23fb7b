// Command webhookload measures the flagger receiver's event webhook on loopback.
//
// It runs the otelcol-flagger binary with a webhook-only flagger receiver and a
// health_check extension, then sends a bounded number of requests at a fixed concurrency
// to each, in turn, twice: a bare net/http handler in this process (the floor for any HTTP
// endpoint here), the collector's health_check (the same process and HTTP server stack as
// the webhook, doing next to nothing) and the webhook. For each run it prints, in Go benchmark format, requests per second, the
// median and 99th percentile latency and the collector's CPU time per request.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-flagger/otelcol-flagger/bench/cmd/internal/proc"
)

func main() {
	var (
		otelcol     = flag.String("otelcol", "bin/otelcol-flagger", "collector binary under test")
		workDir     = flag.String("dir", os.TempDir(), "directory for the configuration and log")
		requests    = flag.Int("requests", 20000, "requests of each run")
		concurrency = flag.Int("concurrency", 8, "requests in flight")
		rounds      = flag.Int("rounds", 2, "runs of each target, interleaved")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("webhookload: ")

	hookPort, err := proc.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	healthPort, err := proc.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	cfgPath := filepath.Join(*workDir, "webhook.yaml")
	if err := os.WriteFile(cfgPath, []byte(config(hookPort, healthPort)), 0o600); err != nil {
		log.Fatal(err)
	}
	healthURL := fmt.Sprintf("http://127.0.0.1:%d/", healthPort)
	c, err := proc.StartCollector(*otelcol, cfgPath, filepath.Join(*workDir, "webhook.log"), healthURL)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = c.Stop() }()

	plainURL, err := servePlain()
	if err != nil {
		log.Fatal(err)
	}
	targets := []target{
		{name: "net_http", method: http.MethodPost, url: plainURL},
		{name: "health_check", method: http.MethodGet, url: healthURL, pid: c.Pid()},
		{name: "webhook", method: http.MethodPost, url: fmt.Sprintf("http://127.0.0.1:%d/events", hookPort), pid: c.Pid()},
	}
	// A short warm-up run of each, not reported, so that connections and buffers are in
	// place before anything is measured.
	for _, t := range targets {
		if _, err := t.load(*requests/10, *concurrency); err != nil {
			log.Fatal(err)
		}
	}
	for round := 0; round < *rounds; round++ {
		for _, t := range targets {
			res, err := t.load(*requests, *concurrency)
			if err != nil {
				log.Fatal(err)
			}
			line := fmt.Sprintf("BenchmarkWebhook/target=%s/concurrency=%d\t%d\t%.0f ns/op\t%.0f req/s\t%.3f p50-ms\t%.3f p99-ms",
				t.name, *concurrency, *requests, res.wall.Seconds()*1e9/float64(*requests),
				float64(*requests)/res.wall.Seconds(), ms(res.p50), ms(res.p99))
			if t.pid != 0 {
				line += fmt.Sprintf("\t%.1f cpu-us/req", res.cpu*1e6/float64(*requests))
			}
			fmt.Println(line)
		}
	}
	if err := c.Stop(); err != nil {
		log.Fatal(err)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// target is one endpoint under load; pid is the process serving it, when its CPU time is
// to be reported.
type target struct {
	name, method, url string
	pid               int
}

// servePlain serves a bare net/http handler that reads the body and answers 200, the floor
// for any HTTP endpoint on this machine. It runs in this process, beside the client.
func servePlain() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		}),
	}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/", nil
}

type result struct {
	wall     time.Duration
	p50, p99 time.Duration
	cpu      float64
}

// payload is an event webhook body as Flagger sends it; the timestamp differs per request.
func payload(i int) []byte {
	ts := strconv.FormatInt(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli()+int64(i), 10)
	return []byte(`{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"5d8f7c9b4",` +
		`"metadata":{"eventMessage":"Advance podinfo.test canary weight 10","eventType":"Normal","timestamp":"` + ts + `"}}`)
}

// load sends n requests with the given number in flight and fails on any answer but 200.
func (t target) load(n, concurrency int) (result, error) {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{}).DialContext,
			MaxIdleConnsPerHost: concurrency,
			DisableCompression:  true,
		},
	}
	defer client.CloseIdleConnections()
	latencies := make([]time.Duration, n)
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	cpu := func() (float64, error) {
		if t.pid == 0 {
			return 0, nil
		}
		return proc.CPUSeconds(t.pid)
	}
	cpuBefore, err := cpu()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				var body io.Reader
				if t.method == http.MethodPost {
					body = bytes.NewReader(payload(i))
				}
				req, err := http.NewRequestWithContext(context.Background(), t.method, t.url, body)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(sent)
				if resp.StatusCode != http.StatusOK {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s answered %s", t.url, resp.Status) })
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpuAfter, err := cpu()
	if err != nil {
		return result{}, err
	}
	if firstErr != nil {
		return result{}, fmt.Errorf("%s: %w", t.name, firstErr)
	}
	slices.Sort(latencies)
	return result{
		wall: wall,
		p50:  latencies[n/2],
		p99:  latencies[n*99/100],
		cpu:  cpuAfter - cpuBefore,
	}, nil
}

// config is a webhook-only flagger receiver feeding a debug exporter that logs nearly
// nothing, with health_check beside it on the same loopback interface.
func config(hookPort, healthPort int) string {
	return fmt.Sprintf(`extensions:
  health_check:
    endpoint: 127.0.0.1:%d

receivers:
  flagger:
    webhook:
      endpoint: 127.0.0.1:%d
      path: /events

processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
    spike_limit_mib: 128
  batch:

exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000000

service:
  extensions: [health_check]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs/flagger:
      receivers: [flagger]
      processors: [memory_limiter, batch]
      exporters: [debug]
`, healthPort, hookPort)
}
