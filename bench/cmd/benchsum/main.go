// Command benchsum reads Go benchmark output and prints the summary of make bench: each
// figure next to the baseline measured in the same run, their ratio and the target.
//
// Every figure is the median over the runs of one benchmark; benchstat, run beside it,
// gives the spread.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results holds every value read, by benchmark name and unit.
type results map[string]map[string][]float64

// procsSuffix is the -GOMAXPROCS suffix go test appends to benchmark names.
var procsSuffix = regexp.MustCompile(`-\d+$`)

func read(path string, into results) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := procsSuffix.ReplaceAllString(fields[0], "")
		if into[name] == nil {
			into[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			into[name][fields[i+1]] = append(into[name][fields[i+1]], v)
		}
	}
	return sc.Err()
}

// get returns the median of a benchmark's values in one unit, and whether there were any.
// Values set to NaN, runs left out, are skipped.
func (r results) get(name, unit string) (float64, bool) {
	vs := slices.DeleteFunc(slices.Clone(r[name][unit]), math.IsNaN)
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// table prints a Markdown table.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print() {
	fmt.Println("| " + strings.Join(t.header, " | ") + " |")
	fmt.Println(strings.Repeat("|---", len(t.header)) + "|")
	for _, row := range t.rows {
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	fmt.Println()
}

func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

const missing = "–"

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchsum: ")
	r := results{}
	for _, path := range flag.Args() {
		if err := read(path, r); err != nil {
			log.Fatal(err)
		}
	}
	processors(r)
	pipeline(r)
	receiver(r)
	webhook(r)
}

// has reports whether any benchmark of the name prefix was read.
func (r results) has(prefix string) bool {
	for name := range r {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func processors(r results) {
	if !r.has("BenchmarkBatch/") {
		return
	}
	fmt.Println("### canaryrole per batch (100 resources × 10 scopes × 100 items, batch processed again each iteration)")
	fmt.Println()
	fmt.Println("CPU time per batch (cpu-ns/op: the process's user+system time over the timed loop),")
	fmt.Println("median of the runs; benchstat above also has wall time (sec/op).")
	fmt.Println()
	t := table{header: []string{
		"signal", "canaries", "nop (floor)", "canaryrole", "resource (a)", "canaryrole ÷ (a), target ≤ 1.5",
		"transform (b)", "(b) ÷ canaryrole, target ≥ 2", "canaryrole allocs/resource, target 0",
	}}
	// net is the ratio of what two processors cost above the floor every processorhelper
	// processor pays. It is left out when the floor is unknown, or when either cost is within
	// a quarter of the floor above it: then the difference is mostly noise in the floor, as
	// with metrics, whose floor visits every data point.
	net := func(x, y, floor float64, ok bool) string {
		if !ok || x-floor < floor/4 || y-floor < floor/4 {
			return ""
		}
		return fmt.Sprintf(", %.2g× net of the floor", (x-floor)/(y-floor))
	}
	for _, signal := range []string{"traces", "metrics", "logs"} {
		prefix := "BenchmarkBatch/signal=" + signal
		floor, floorOK := r.get(prefix+"/proc=nop", "cpu-ns/op")
		res, resOK := r.get(prefix+"/proc=resource", "cpu-ns/op")
		empty, emptyOK := r.get("BenchmarkEmptyBatch/signal="+signal+"/proc=canaryrole", "allocs/op")
		for _, n := range []int{1, 10, 200, 1000} {
			cr, crOK := r.get(fmt.Sprintf("%s/proc=canaryrole/canaries=%d", prefix, n), "cpu-ns/op")
			tr, trOK := r.get(fmt.Sprintf("%s/proc=transform/canaries=%d", prefix, n), "cpu-ns/op")
			allocs, allocsOK := r.get(fmt.Sprintf("%s/proc=canaryrole/canaries=%d", prefix, n), "allocs/op")
			row := []string{signal, strconv.Itoa(n), missing, missing, missing, missing, missing, missing, missing}
			if floorOK {
				row[2] = dur(floor)
			}
			if crOK {
				row[3] = dur(cr)
			}
			if resOK {
				row[4] = dur(res)
			}
			if crOK && resOK {
				row[5] = fmt.Sprintf("%.2f×%s %s", cr/res, net(cr, res, floor, floorOK), verdict(cr/res <= 1.5))
			}
			if trOK {
				row[6] = dur(tr)
			}
			if crOK && trOK {
				row[7] = fmt.Sprintf("%.1f×%s %s", tr/cr, net(tr, cr, floor, floorOK), verdict(tr/cr >= 2))
			}
			if allocsOK && emptyOK {
				per := (allocs - empty) / 100
				row[8] = fmt.Sprintf("%.2f (%.0f per batch, %.0f of them per call) %s",
					per, allocs, empty, verdict(per <= 0))
			}
			t.add(row...)
		}
	}
	t.print()
	if labels, ok := r.get("BenchmarkBatch/signal=metrics/proc=canaryrole+labels/canaries=10", "cpu-ns/op"); ok {
		plain, _ := r.get("BenchmarkBatch/signal=metrics/proc=canaryrole/canaries=10", "cpu-ns/op")
		fmt.Printf("With metric_labels (the default) canaryrole also labels all 100,000 data points: "+
			"metrics, 10 canaries: %s, %.1f× the resource-only figure.\n\n", dur(labels), labels/plain)
	}
}

func pipeline(r results) {
	if !r.has("BenchmarkPipeline/") {
		return
	}
	fmt.Println("### Whole collector: OTLP gRPC → [memory_limiter, (canaryrole), batch] → OTLP gRPC")
	fmt.Println()
	dropped := dropStarved(r)
	t := table{header: []string{
		"canaries", "spans/s", "CPU s per M spans, with canaryrole", "without", "ratio, target ≤ 1.03",
		"peak RSS with", "peak RSS without", "with transform instead (check of the method)",
	}}
	for _, n := range []int{10, 200} {
		with := fmt.Sprintf("BenchmarkPipeline/canaries=%d/proc=canaryrole", n)
		without := fmt.Sprintf("BenchmarkPipeline/canaries=%d/proc=none", n)
		cpuWith, ok1 := r.get(with, "cpu-s/Mspan")
		cpuWithout, ok2 := r.get(without, "cpu-s/Mspan")
		if !ok1 || !ok2 {
			continue
		}
		rate, _ := r.get(with, "spans/s")
		rssWith, _ := r.get(with, "peak-RSS-MiB")
		rssWithout, _ := r.get(without, "peak-RSS-MiB")
		tr := missing
		if v, ok := r.get(fmt.Sprintf("BenchmarkPipeline/canaries=%d/proc=transform", n), "cpu-s/Mspan"); ok {
			tr = fmt.Sprintf("%.2f CPU s per M spans, %.2f× without", v, v/cpuWithout)
		}
		// The runs alternate, so the i-th of each variant ran side by side.
		var pairs []string
		as, bs := r[with]["cpu-s/Mspan"], r[without]["cpu-s/Mspan"]
		for i := range min(len(as), len(bs)) {
			if math.IsNaN(as[i]) || math.IsNaN(bs[i]) {
				pairs = append(pairs, missing)
				continue
			}
			pairs = append(pairs, fmt.Sprintf("%.2f", as[i]/bs[i]))
		}
		t.add(strconv.Itoa(n), fmt.Sprintf("%.0f", rate),
			fmt.Sprintf("%.2f", cpuWith), fmt.Sprintf("%.2f", cpuWithout),
			fmt.Sprintf("%.3f× %s (pair by pair: %s)", cpuWith/cpuWithout,
				verdict(cpuWith/cpuWithout <= 1.03), strings.Join(pairs, ", ")),
			fmt.Sprintf("%.0f MiB", rssWith), fmt.Sprintf("%.0f MiB", rssWithout), tr)
	}
	t.print()
	if dropped > 0 {
		fmt.Printf("%d run(s) left out: telemetrygen delivered under 90 %% of the median rate of its "+
			"group, so the collector did not see the same load (the machine was busy elsewhere).\n\n", dropped)
	}
	var all []float64
	for _, n := range []int{10, 200} {
		all = append(all, r[fmt.Sprintf("BenchmarkPipeline/canaries=%d/proc=none", n)]["cpu-s/Mspan"]...)
	}
	all = slices.DeleteFunc(all, math.IsNaN)
	if len(all) > 1 {
		fmt.Printf("The same pipeline without canaryrole, run %d times: %.2f to %.2f CPU s per M spans.\n\n",
			len(all), slices.Min(all), slices.Max(all))
	}
}

// dropStarved leaves out, by setting their values to NaN, the pipeline runs whose load fell
// under 90 % of the median rate of the runs with the same number of canaries, and returns
// how many it left out.
func dropStarved(r results) int {
	group := func(name string) string { return name[:strings.LastIndex(name, "/")] }
	rates := map[string][]float64{}
	for name, units := range r {
		if strings.HasPrefix(name, "BenchmarkPipeline/") {
			rates[group(name)] = append(rates[group(name)], units["spans/s"]...)
		}
	}
	dropped := 0
	for name, units := range r {
		if !strings.HasPrefix(name, "BenchmarkPipeline/") {
			continue
		}
		all := slices.Sorted(slices.Values(rates[group(name)]))
		floor := 0.9 * all[len(all)/2]
		for i, rate := range units["spans/s"] {
			if rate >= floor {
				continue
			}
			dropped++
			for unit := range units {
				if i < len(units[unit]) {
					units[unit][i] = math.NaN()
				}
			}
		}
	}
	return dropped
}

func receiver(r results) {
	if !r.has("BenchmarkCanaryChange") && !r.has("BenchmarkHeapPerCanary") {
		return
	}
	fmt.Println("### flagger receiver, one core (-cpu 1)")
	fmt.Println()
	t := table{header: []string{"measure", "value", "baseline", "ratio", "target"}}
	for _, b := range []struct{ name, unit, label string }{
		{"BenchmarkCanaryChange", "changes/s", "Canary status change → record"},
		{"BenchmarkKubernetesEvent", "events/s", "Kubernetes Event → record"},
		{"BenchmarkWebhookHandler", "events/s", "webhook handler → record (no network)"},
		{"BenchmarkWebhookRequest", "events/s", "same, building an httptest request and recorder each time"},
	} {
		v, ok := r.get(b.name, b.unit)
		if !ok {
			continue
		}
		allocs, _ := r.get(b.name, "allocs/op")
		base, ratio := "absolute", missing
		if strings.HasPrefix(b.name, "BenchmarkWebhook") {
			if d, ok := r.get("BenchmarkWebhookDecode", "events/s"); ok {
				base = fmt.Sprintf("%.0f/s: JSON decode of the same body", d)
				ratio = fmt.Sprintf("%.2f×", v/d)
			}
		}
		target := fmt.Sprintf("≥ 50000/s %s", verdict(v >= 50000))
		if b.name == "BenchmarkWebhookRequest" {
			target = "not judged: a quarter of it is the test's own request building"
		}
		t.add(b.label, fmt.Sprintf("%.0f/s, %.0f allocs", v, allocs), base, ratio, target)
	}
	for _, n := range []int{1000, 10000} {
		v, ok := r.get(fmt.Sprintf("BenchmarkHeapPerCanary/%d", n), "B/canary")
		if !ok {
			continue
		}
		t.add(fmt.Sprintf("heap per Canary, %d Canaries", n), fmt.Sprintf("%.0f B", v), "absolute", missing,
			fmt.Sprintf("≤ 4096 B %s", verdict(v <= 4096)))
	}
	t.print()
}

func webhook(r results) {
	if !r.has("BenchmarkWebhook/") {
		return
	}
	fmt.Println("### Event webhook on loopback, running binary")
	fmt.Println()
	t := table{header: []string{
		"target", "requests/s", "p50", "p99", "collector CPU per request", "webhook ÷ this: requests/s, p99",
	}}
	names := map[string]string{}
	for n := range r {
		for _, target := range []string{"net_http", "health_check", "webhook"} {
			if strings.HasPrefix(n, "BenchmarkWebhook/target="+target+"/") {
				names[target] = n
			}
		}
	}
	hookRPS, _ := r.get(names["webhook"], "req/s")
	hookP99, _ := r.get(names["webhook"], "p99-ms")
	for _, target := range []string{"net_http", "health_check", "webhook"} {
		name := names[target]
		rps, ok := r.get(name, "req/s")
		if !ok {
			continue
		}
		p50, _ := r.get(name, "p50-ms")
		p99, _ := r.get(name, "p99-ms")
		cpu := missing
		if v, ok := r.get(name, "cpu-us/req"); ok {
			cpu = fmt.Sprintf("%.0f µs", v)
		}
		ratio := missing
		if target != "webhook" && hookRPS > 0 {
			ratio = fmt.Sprintf("%.2f×, %.2f×", hookRPS/rps, hookP99/p99)
		}
		t.add(strings.TrimPrefix(name, "BenchmarkWebhook/"), fmt.Sprintf("%.0f", rps),
			fmt.Sprintf("%.2f ms", p50), fmt.Sprintf("%.2f ms", p99), cpu, ratio)
	}
	t.print()
}
