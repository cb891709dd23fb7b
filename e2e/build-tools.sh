#!/usr/bin/env bash
# Builds the binaries the e2e tier runs (etcd, kube-apiserver,
# kube-controller-manager, kwok, flagger, and telemetrygen to send
# application telemetry) from the Go module proxy and copies the kwok stage
# files and Flagger's CRD next to them.
#
# Output goes to $E2E_TOOLS_DIR (default $HOME/.cache/otelcol-flagger-e2e/bin).
# A tool is rebuilt only when it is missing or was built at another version.
set -euo pipefail

KUBE_VERSION=v1.36.4
KUBE_STAGING_VERSION=v0.36.4
KWOK_VERSION=v0.8.0
FLAGGER_VERSION=v1.36.1
# The collector release the distribution is built from.
TELEMETRYGEN_VERSION=v0.161.0

TOOLS_DIR="${E2E_TOOLS_DIR:-$HOME/.cache/otelcol-flagger-e2e/bin}"
STAMP_DIR="$TOOLS_DIR/.versions"
mkdir -p "$TOOLS_DIR" "$STAMP_DIR"
TOOLS_DIR="$(cd "$TOOLS_DIR" && pwd)"
STAMP_DIR="$TOOLS_DIR/.versions"

# The tools are built outside any workspace or module of the caller.
export GOWORK=off
cd "$TOOLS_DIR"

log() { printf '%s build-tools: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# up_to_date NAME VERSION: true when NAME exists and was built at VERSION.
up_to_date() {
	[[ -e "$TOOLS_DIR/$1" ]] && [[ "$(cat "$STAMP_DIR/$1" 2>/dev/null)" == "$2" ]]
}

stamp() { printf '%s\n' "$2" >"$STAMP_DIR/$1"; }

# module_dir MODULE@VERSION prints the module's directory in the module cache.
module_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

build_kube() {
	local kube_key="$KUBE_VERSION staging=$KUBE_STAGING_VERSION"
	if up_to_date kube-apiserver "$kube_key" &&
		up_to_date kube-controller-manager "$kube_key" &&
		up_to_date etcd "$kube_key"; then
		return
	fi

	# Kubernetes replaces its staging modules with local paths, which a
	# dependent module cannot see; this throwaway module pins them instead.
	local src="$TOOLS_DIR/.build/kube-$KUBE_VERSION"
	local kube_mod
	mkdir -p "$src"
	log "resolving k8s.io/kubernetes@$KUBE_VERSION"
	kube_mod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"

	{
		printf 'module e2etools\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBE_VERSION"
		sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\1#p' "$kube_mod" |
			sort -u |
			while read -r m; do
				printf 'replace %s => %s %s\n' "$m" "$m" "$KUBE_STAGING_VERSION"
			done
	} >"$src/go.mod"

	cat >"$src/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO

	log "resolving the kube module graph"
	(cd "$src" && go mod tidy)

	local pkg=k8s.io/component-base/version
	local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1"
	ldflags+=" -X $pkg.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
	ldflags+=" -X $pkg.gitTreeState=clean"

	local cmd
	for cmd in kube-apiserver kube-controller-manager; do
		log "building $cmd"
		(cd "$src" && go build -ldflags "$ldflags" -o "$TOOLS_DIR/$cmd" "k8s.io/kubernetes/cmd/$cmd")
		stamp "$cmd" "$kube_key"
	done

	log "building etcd"
	(cd "$src" && go build -ldflags "-s -w" -o "$TOOLS_DIR/etcd" go.etcd.io/etcd/server/v3)
	stamp etcd "$kube_key"
}

build_kwok() {
	if ! up_to_date kwok "$KWOK_VERSION"; then
		log "building kwok $KWOK_VERSION"
		GOBIN="$TOOLS_DIR" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
		stamp kwok "$KWOK_VERSION"
	fi

	if ! up_to_date kwok-stages.yaml "$KWOK_VERSION"; then
		local dir f
		dir="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")"
		: >"$TOOLS_DIR/kwok-stages.yaml"
		for f in "$dir"/kustomize/stage/node/fast/*.yaml "$dir"/kustomize/stage/pod/fast/*.yaml; do
			# The kustomization files list the stages; they are not stages.
			[[ "$(basename "$f")" == kustomization.yaml ]] && continue
			printf -- '---\n' >>"$TOOLS_DIR/kwok-stages.yaml"
			cat "$f" >>"$TOOLS_DIR/kwok-stages.yaml"
			printf '\n' >>"$TOOLS_DIR/kwok-stages.yaml"
		done
		stamp kwok-stages.yaml "$KWOK_VERSION"
	fi
}

build_flagger() {
	if ! up_to_date flagger "$FLAGGER_VERSION"; then
		log "building flagger $FLAGGER_VERSION"
		GOBIN="$TOOLS_DIR" go install -ldflags "-s -w" "github.com/fluxcd/flagger/cmd/flagger@$FLAGGER_VERSION"
		stamp flagger "$FLAGGER_VERSION"
	fi

	if ! up_to_date flagger-crd.yaml "$FLAGGER_VERSION"; then
		local dir
		dir="$(module_dir "github.com/fluxcd/flagger@$FLAGGER_VERSION")"
		install -m 0644 "$dir/artifacts/flagger/crd.yaml" "$TOOLS_DIR/flagger-crd.yaml"
		stamp flagger-crd.yaml "$FLAGGER_VERSION"
	fi
}

build_telemetrygen() {
	if ! up_to_date telemetrygen "$TELEMETRYGEN_VERSION"; then
		log "building telemetrygen $TELEMETRYGEN_VERSION"
		GOBIN="$TOOLS_DIR" go install -ldflags "-s -w" \
			"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION"
		stamp telemetrygen "$TELEMETRYGEN_VERSION"
	fi
}

start=$(date +%s)
build_kube
build_kwok
build_flagger
build_telemetrygen
log "tools ready in $TOOLS_DIR ($(($(date +%s) - start))s)"
