//go:generate mdatagen metadata.yaml

// Package canaryroleprocessor marks telemetry from the two sides of a Flagger rollout: the
// canary workload and its primary. Both run the same pod template, so nothing else in their
// telemetry tells them apart.
package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"
