// Command pipeline measures what the canaryrole processor adds to a whole collector.
//
// It runs the otelcol-flagger binary with OTLP gRPC in, [memory_limiter, canaryrole, batch]
// and OTLP gRPC out to a sink this command serves, then the same pipeline without
// canaryrole, alternating the two (A, B, A, B); optionally a third with transform doing
// the same stamping with OTTL, as a check that the method sees a cost. telemetrygen sends a fixed load: one
// process for the primary workload of a canary and one for its canary workload. For each
// run it prints, in Go benchmark format, the collector's CPU seconds per million spans
// (utime+stime from /proc/<pid>/stat around the load) and its peak RSS (VmHWM).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	// The collector's OTLP exporter compresses with gzip by default.
	_ "google.golang.org/grpc/encoding/gzip"

	"github.com/otelcol-flagger/otelcol-flagger/bench/cmd/internal/proc"
)

func main() {
	var (
		otelcol      = flag.String("otelcol", "bin/otelcol-flagger", "collector binary under test")
		telemetrygen = flag.String("telemetrygen", ".tools/telemetrygen", "telemetrygen binary")
		workDir      = flag.String("dir", os.TempDir(), "directory for configurations and logs")
		duration     = flag.Duration("duration", 60*time.Second, "load duration of each run")
		rate         = flag.Int("rate", 2000, "spans per second of each telemetrygen worker")
		canaries     = flag.String("canaries", "10,200", "canary counts to configure, comma separated")
		rounds       = flag.Int("rounds", 2, "runs of each variant, interleaved")
		transform    = flag.String("transform", "", "canary counts at which the same pipeline with "+
			"transform in place of canaryrole also runs, comma separated")
		transformRounds = flag.Int("transform-rounds", 2, "rounds that include the transform run")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("pipeline: ")

	s, addr, err := startSink()
	if err != nil {
		log.Fatal(err)
	}
	withTransform := counts(*transform)
	for _, n := range counts(*canaries) {
		for round := 0; round < *rounds; round++ {
			procs := []string{"canaryrole", "none"}
			if slices.Contains(withTransform, n) && round < *transformRounds {
				procs = append(procs, "transform")
			}
			for _, p := range procs {
				r := run{
					otelcol: *otelcol, telemetrygen: *telemetrygen, dir: *workDir,
					sink: s, sinkAddr: addr, canaries: n, proc: p,
					duration: *duration, rate: *rate,
				}
				if err := r.do(); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
}

// counts parses a comma-separated list of canary counts.
func counts(list string) []int {
	var out []int
	for _, field := range strings.Split(list, ",") {
		if strings.TrimSpace(field) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			log.Fatalf("bad canary count %q", field)
		}
		out = append(out, n)
	}
	return out
}

// sink counts the spans it receives, and how many of them carry a role.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer
	spans   atomic.Int64
	stamped atomic.Int64
}

func (s *sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	rss := req.Traces().ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		n := int64(0)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			n += int64(rs.ScopeSpans().At(j).Spans().Len())
		}
		s.spans.Add(n)
		if _, ok := rs.Resource().Attributes().Get("flagger.canary.role"); ok {
			s.stamped.Add(n)
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

func startSink() (*sink, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := grpc.NewServer()
	s := &sink{}
	ptraceotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	return s, l.Addr().String(), nil
}

type run struct {
	otelcol, telemetrygen, dir string
	sink                       *sink
	sinkAddr                   string
	canaries                   int
	// proc is the processor between memory_limiter and batch: canaryrole, transform or
	// none.
	proc     string
	duration time.Duration
	rate     int
}

func (r *run) name() string {
	return fmt.Sprintf("BenchmarkPipeline/canaries=%d/proc=%s", r.canaries, r.proc)
}

func (r *run) do() error {
	inPort, err := proc.FreePort()
	if err != nil {
		return err
	}
	healthPort, err := proc.FreePort()
	if err != nil {
		return err
	}
	base := filepath.Join(r.dir, strings.NewReplacer("/", "_", "=", "-").Replace(r.name()))
	cfgPath := base + ".yaml"
	if err := os.WriteFile(cfgPath, []byte(r.config(inPort, healthPort)), 0o600); err != nil {
		return err
	}
	c, err := proc.StartCollector(r.otelcol, cfgPath, base+".log",
		fmt.Sprintf("http://127.0.0.1:%d/", healthPort))
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop() }()

	r.sink.spans.Store(0)
	r.sink.stamped.Store(0)
	cpuBefore, err := proc.CPUSeconds(c.Pid())
	if err != nil {
		return err
	}
	start := time.Now()
	if err := r.load(inPort); err != nil {
		return err
	}
	spans := r.drain()
	elapsed := time.Since(start)
	cpuAfter, err := proc.CPUSeconds(c.Pid())
	if err != nil {
		return err
	}
	peak, err := proc.PeakRSSMiB(c.Pid())
	if err != nil {
		return err
	}
	if spans == 0 {
		return fmt.Errorf("%s: the sink received no spans; see %s.log", r.name(), base)
	}
	stamped := float64(r.sink.stamped.Load()) / float64(spans)
	if r.proc != "none" && stamped != 1 {
		return fmt.Errorf("%s: only %.1f%% of the spans were stamped", r.name(), 100*stamped)
	}
	cpu := cpuAfter - cpuBefore
	fmt.Printf("%s\t%d\t%.4f cpu-s/Mspan\t%.1f peak-RSS-MiB\t%.0f spans/s\t%.3f cpu-cores\n",
		r.name(), spans, cpu*1e6/float64(spans), peak,
		float64(spans)/r.duration.Seconds(), cpu/elapsed.Seconds())
	return c.Stop()
}

// load runs one telemetrygen process per side of the last configured canary, in parallel.
func (r *run) load(port int) error {
	ns, name := fmt.Sprintf("team-%d", (r.canaries-1)%10), fmt.Sprintf("app-%04d", r.canaries-1)
	ctx, cancel := context.WithTimeout(context.Background(), r.duration+time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, workload := range []string{name + "-primary", name} {
		wg.Go(func() {
			errs[i] = proc.Run(ctx, r.telemetrygen, "traces",
				"--otlp-endpoint", fmt.Sprintf("127.0.0.1:%d", port), "--otlp-insecure",
				"--workers", "1", "--rate", strconv.Itoa(r.rate),
				"--duration", r.duration.String(),
				"--service", name,
				"--otlp-attributes", fmt.Sprintf("k8s.namespace.name=%q", ns),
				"--otlp-attributes", fmt.Sprintf("k8s.deployment.name=%q", workload),
				"--otlp-attributes", fmt.Sprintf("k8s.pod.name=%q", workload+"-7d9f8c6b5-x2k4q"),
				"--telemetry-attributes", `http.request.method="GET"`,
			)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// drain waits until the sink has received nothing new for a second, so the batch the
// collector still held is counted, and returns the spans received.
func (r *run) drain() int64 {
	last := r.sink.spans.Load()
	for {
		time.Sleep(time.Second)
		now := r.sink.spans.Load()
		if now == last {
			return now
		}
		last = now
	}
}

// yamlQuote writes s as a single-quoted YAML scalar.
func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (r *run) config(inPort, healthPort int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `extensions:
  health_check:
    endpoint: 127.0.0.1:%d

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d

processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 1024
    spike_limit_mib: 256
  batch:
`, healthPort, inPort)
	processors := "[memory_limiter, batch]"
	switch r.proc {
	case "canaryrole":
		processors = "[memory_limiter, canaryrole, batch]"
		b.WriteString("  canaryrole:\n    canaries:\n")
		for c := 0; c < r.canaries; c++ {
			fmt.Fprintf(&b, "      - namespace: team-%d\n        name: app-%04d\n", c%10, c)
		}
	case "transform":
		// The four statements per canary that stamp what canaryrole stamps.
		processors = "[memory_limiter, transform, batch]"
		b.WriteString("  transform:\n    error_mode: ignore\n    trace_statements:\n")
		const where = ` where resource.attributes["k8s.namespace.name"] == %q` +
			` and resource.attributes["k8s.deployment.name"] == %q`
		for c := 0; c < r.canaries; c++ {
			ns, name := fmt.Sprintf("team-%d", c%10), fmt.Sprintf("app-%04d", c)
			for _, side := range [][2]string{{"primary", name + "-primary"}, {"canary", name}} {
				for _, kv := range [][2]string{{"flagger.canary.role", side[0]}, {"flagger.canary.name", name}} {
					stmt := fmt.Sprintf(`set(resource.attributes[%q], %q)`+where, kv[0], kv[1], ns, side[1])
					fmt.Fprintf(&b, "      - %s\n", yamlQuote(stmt))
				}
			}
		}
	}
	fmt.Fprintf(&b, `
exporters:
  otlp:
    endpoint: %s
    tls:
      insecure: true

service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: %s
      exporters: [otlp]
`, r.sinkAddr, processors)
	return b.String()
}
