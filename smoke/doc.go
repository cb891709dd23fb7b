// Package smoke tests the built otelcol-flagger binary as a user runs it: on a copy of
// configs/local.yaml, fed over every local protocol, read back from its outputs.
//
// The tests that need the binary skip unless OTELCOL_BIN names it:
//
//	cd smoke && OTELCOL_BIN=$PWD/../bin/otelcol-flagger go test -count=1 ./...
//
// The rest check the configuration files themselves, such as the ConfigMap in
// configs/kubernetes agreeing with configs/otel-collector.yaml.
package smoke // import "github.com/otelcol-flagger/otelcol-flagger/smoke"
