# otelcol-flagger: build, run and test the collector distribution.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

ROOT      := $(abspath .)
TOOLS     := $(ROOT)/.tools
BIN       := $(ROOT)/bin
OTELCOL   := $(BIN)/otelcol-flagger
OCB       := $(TOOLS)/builder
MDATAGEN  := $(TOOLS)/mdatagen
GOTESTSUM := $(TOOLS)/gotestsum
LINT      := $(TOOLS)/golangci-lint
BENCHSTAT := $(TOOLS)/benchstat

OCB_VERSION       := v0.161.0
GOTESTSUM_VERSION := v1.13.0
LINT_VERSION      := v2.15.0
BENCHSTAT_VERSION := v0.0.0-20260312031701-16a31bc5fbd0

# Component modules, each tested on its own.
MODULES := internal/kube receiver/flaggerreceiver processor/canaryroleprocessor
# Sources the distribution is built from.
SOURCES := builder-config.yaml $(shell find receiver processor internal/kube distribution -name '*.go' -o -name go.mod -o -name go.sum 2>/dev/null)

export GOWORK := off
export GOFLAGS := -buildvcs=false

.PHONY: all
all: build

## Tools, built from the Go module proxy with the pinned versions.
$(OCB):
	GOBIN=$(TOOLS) go install go.opentelemetry.io/collector/cmd/builder@$(OCB_VERSION)

# mdatagen v0.161.0 cannot be installed from the proxy (its schemagen dependency is not
# published); internal/tools pins the newest release that builds.
$(MDATAGEN): internal/tools/go.mod
	cd internal/tools && go build -o $(MDATAGEN) go.opentelemetry.io/collector/cmd/mdatagen

$(GOTESTSUM):
	GOBIN=$(TOOLS) go install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

$(LINT):
	GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VERSION)

.PHONY: tools
tools: $(OCB) $(MDATAGEN) $(GOTESTSUM)

## generate: regenerate mdatagen code and the ocb distribution sources.
.PHONY: generate
generate: $(OCB) $(MDATAGEN)
	cd receiver/flaggerreceiver && $(MDATAGEN) metadata.yaml
	cd processor/canaryroleprocessor && $(MDATAGEN) metadata.yaml
	$(OCB) --config builder-config.yaml --skip-compilation
	cd distribution && go mod tidy

## check-generated: fail when regeneration changes a committed file.
.PHONY: check-generated
check-generated: generate
	@if [ -n "$$(git status --porcelain -- distribution receiver processor)" ]; then \
		echo "generated files are out of date; run make generate and commit:"; \
		git status --porcelain -- distribution receiver processor; \
		git diff --stat -- distribution receiver processor; exit 1; fi

## check-versions: every collector module at one release, every k8s.io module at one release.
# k8sattributesprocessor (and its internal k8sconfig) is the one exception: its last v0.x tag is
# v0.160.0, which builds beside the v0.161.0 set.
COLLECTOR_RE := (go.opentelemetry.io/collector|opentelemetry-collector-contrib)[^ ]* v
.PHONY: check-versions
check-versions:
	@bad=$$(grep -HE '$(COLLECTOR_RE)|k8s.io/(api|apimachinery|client-go|apiextensions-apiserver|component-base) v' \
		$$(git ls-files '*go.mod' | grep -v '^internal/tools/') \
		| grep -vE ' (v0\.161\.0|v1\.67\.0|v0\.36\.4)( |$$)' \
		| grep -vE '(k8sattributesprocessor|internal/k8sconfig) v0\.160\.0' || true); \
	if [ -n "$$bad" ]; then echo "modules off the pinned releases:"; echo "$$bad"; exit 1; fi; \
	echo "collector modules at v0.161.0/v1.67.0, k8s.io modules at v0.36.4"

## build: bin/otelcol-flagger.
.PHONY: build
build: $(OTELCOL)

$(OTELCOL): $(SOURCES)
	mkdir -p $(BIN)
	cd distribution && CGO_ENABLED=0 go build -o $(OTELCOL) .

## run: start the collector on the embedded default configuration (no cluster needed).
.PHONY: run
run: $(OTELCOL)
	$(OTELCOL) --config configs/local.yaml

## validate: every collector configuration under configs/ must validate.
.PHONY: validate
validate: $(OTELCOL)
	for f in configs/*.yaml; do echo "validate $$f"; $(OTELCOL) validate --config $$f; done

## unit: unit and golden tests of each module, with the race detector.
.PHONY: unit
unit: $(GOTESTSUM)
	for m in $(MODULES); do \
		echo "== $$m"; (cd $$m && $(GOTESTSUM) --format testname -- -race -count=1 ./...); done

## fuzz: a short run of the webhook fuzz test on top of its seed corpus.
.PHONY: fuzz
fuzz:
	cd receiver/flaggerreceiver && go test -run '^$$' -fuzz FuzzWebhook -fuzztime 30s .

## smoke: the built distribution, on configs/local.yaml.
.PHONY: smoke
smoke: $(OTELCOL) $(GOTESTSUM)
	cd smoke && OTELCOL_BIN=$(OTELCOL) $(GOTESTSUM) --format testname -- -count=1 ./...

## e2e: the real-cluster tier (builds the control plane and Flagger once, then caches them).
.PHONY: e2e
e2e: $(OTELCOL) $(GOTESTSUM)
	bash e2e/build-tools.sh
	cd e2e && E2E=1 OTELCOL_BIN=$(OTELCOL) $(GOTESTSUM) --format testname -- -count=1 -timeout 30m ./...

## test: everything: generated code, unit, golden, fuzz, build, configs, smoke, e2e.
.PHONY: test
test: check-versions check-generated unit fuzz build validate smoke e2e

## configmap: regenerate configs/kubernetes/configmap.yaml from configs/otel-collector.yaml.
.PHONY: configmap
configmap:
	cd smoke && go test -count=1 -run TestConfigMap -update .

## lint
.PHONY: lint
lint: $(LINT)
	for m in $(MODULES); do (cd $$m && $(LINT) run ./...); done

## bench: benchmarks, as ratios against baselines measured in the same run.
.PHONY: bench
bench:
	bash bench/run.sh

.PHONY: clean
clean:
	rm -rf $(BIN) $(TOOLS)
