// Package kube holds what the flagger receiver and the canaryrole processor share about the
// Kubernetes API: how to authenticate, how to watch Flagger Canaries without letting one bad
// object stop the others, and how to read a Canary into a small, typed view.
package kube // import "github.com/otelcol-flagger/otelcol-flagger/internal/kube"
