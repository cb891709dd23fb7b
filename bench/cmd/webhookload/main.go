// Command webhookload measures the flagger receiver's event webhook on loopback.
//
// It runs the otelcol-flagger binary with a webhook-only flagger receiver and a
// health_check extension, then sends a bounded number of requests at a fixed concurrency
// to each, alternating (health, webhook, health, webhook): health_check answers from the
// same process over the same kind of HTTP server, so it is the baseline for what HTTP
// alone costs. For each run it prints, in Go benchmark format, requests per second, the
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

	targets := []target{
		{name: "health_check", method: http.MethodGet, url: healthURL},
		{name: "webhook", method: http.MethodPost, url: fmt.Sprintf("http://127.0.0.1:%d/events", hookPort)},
	}
	// A short warm-up run of each, not reported, so that connections and buffers are in
	// place before anything is measured.
	for _, t := range targets {
		if _, err := t.load(*requests/10, *concurrency, c.Pid()); err != nil {
			log.Fatal(err)
		}
	}
	for round := 0; round < *rounds; round++ {
		for _, t := range targets {
			res, err := t.load(*requests, *concurrency, c.Pid())
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("BenchmarkWebhook/target=%s/concurrency=%d\t%d\t%.0f ns/op\t%.0f req/s\t%.3f p50-ms\t%.3f p99-ms\t%.1f cpu-us/req\n",
				t.name, *concurrency, *requests, res.wall.Seconds()*1e9/float64(*requests),
				float64(*requests)/res.wall.Seconds(), ms(res.p50), ms(res.p99), res.cpu*1e6/float64(*requests))
		}
	}
	if err := c.Stop(); err != nil {
		log.Fatal(err)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type target struct {
	name, method, url string
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
func (t target) load(n, concurrency, pid int) (result, error) {
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
	cpuBefore, err := proc.CPUSeconds(pid)
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
	cpuAfter, err := proc.CPUSeconds(pid)
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
