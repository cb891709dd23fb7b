#!/usr/bin/env bash
# make bench: every benchmark of BENCHMARKS.md, each against a baseline measured in the same
# run, then a summary of the ratios and targets.
#
#   processors  canaryrole per batch against the resource and transform processors
#   receiver    the flagger receiver's benchmarks on one core, and its heap per Canary
#   pipeline    the running collector with and without canaryrole under telemetrygen
#   webhook     the running collector's event webhook against its health_check and net/http
#
# Environment:
#   BENCH_PARTS              parts to run (default: all four, in the order above)
#   BENCH_COUNT              runs of each Go benchmark (default 6: benchstat gives a
#                            confidence interval from six)
#   BENCH_PIPELINE_DURATION  load duration of each pipeline run (default 20s)
#   BENCH_OUT                where raw results and the summary go (default bench/out)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$ROOT/.tools
OTELCOL=$ROOT/bin/otelcol-flagger
OUT=${BENCH_OUT:-$ROOT/bench/out}
PARTS=${BENCH_PARTS:-processors receiver pipeline webhook}
COUNT=${BENCH_COUNT:-6}
PIPELINE_DURATION=${BENCH_PIPELINE_DURATION:-20s}

BENCHSTAT_VERSION=v0.0.0-20260312031701-16a31bc5fbd0
TELEMETRYGEN_VERSION=v0.161.0

export GOWORK=off
export GOFLAGS=-buildvcs=false

started=$(date +%s)
step() { echo "== $(date +%T) $*"; }
wants() { [[ " $PARTS " == *" $1 "* ]]; }

if wants pipeline || wants webhook; then
	if [[ ! -x $OTELCOL ]]; then
		echo "$OTELCOL is missing: run make build first (or set BENCH_PARTS)" >&2
		exit 1
	fi
	if ! make -s -q -C "$ROOT" "$OTELCOL" 2>/dev/null; then
		echo "warning: $OTELCOL is older than its sources; make build refreshes it" >&2
	fi
fi

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/work"

step "tools"
if [[ ! -x $TOOLS/benchstat ]]; then
	GOBIN=$TOOLS go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
fi
if [[ ! -x $TOOLS/telemetrygen ]] && { wants pipeline; }; then
	GOBIN=$TOOLS go install \
		"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
fi
(cd "$ROOT/bench/cmd" && go build -o "$OUT/bin/" ./...)

# Go benchmarks: raw output to a file, benchstat's view of it on the terminal.
gobench() {
	local name=$1 dir=$2
	shift 2
	(cd "$ROOT/$dir" && go test -run '^$' -benchmem -timeout 30m "$@" .) >"$OUT/$name.txt"
	"$TOOLS/benchstat" "$OUT/$name.txt"
}

if wants processors; then
	step "processors: canaryrole, resource and transform per batch (count $COUNT)"
	gobench processors bench/processors -bench 'Batch$|EmptyBatch' -benchtime 0.5s -count "$COUNT"
fi

if wants receiver; then
	step "receiver: events on one core (count $COUNT), heap per Canary"
	gobench receiver receiver/flaggerreceiver \
		-bench 'CanaryChange|KubernetesEvent|WebhookHandler|WebhookRequest|WebhookDecode' -cpu 1 -count "$COUNT"
	gobench receiver-heap receiver/flaggerreceiver -bench 'HeapPerCanary' -benchtime 1x -count 3
fi

if wants pipeline; then
	step "pipeline: with and without canaryrole (and, twice, transform at 200), $PIPELINE_DURATION per run, four times each, interleaved"
	"$OUT/bin/pipeline" -otelcol "$OTELCOL" -telemetrygen "$TOOLS/telemetrygen" \
		-dir "$OUT/work" -duration "$PIPELINE_DURATION" -rate 2000 -canaries 10,200 -transform 200 -rounds 4 |
		tee "$OUT/pipeline.txt"
fi

if wants webhook; then
	step "webhook: 20000 requests at concurrency 8 to net/http, health_check and the webhook, twice each, interleaved"
	"$OUT/bin/webhookload" -otelcol "$OTELCOL" -dir "$OUT/work" \
		-requests 20000 -concurrency 8 -rounds 2 | tee "$OUT/webhook.txt"
fi

step "summary"
results=()
for f in processors receiver receiver-heap pipeline webhook; do
	[[ -f $OUT/$f.txt ]] && results+=("$OUT/$f.txt")
done
{
	echo "## make bench summary"
	echo
	echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)."
	echo
	"$OUT/bin/benchsum" "${results[@]}"
	echo "make bench took $(( $(date +%s) - started )) s."
} | tee "$OUT/summary.md"
