//go:generate mdatagen metadata.yaml

// Package flaggerreceiver turns Flagger Canary state changes and Flagger's events, read from
// the Kubernetes API and from Flagger's event webhook, into logs and metrics.
package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"
