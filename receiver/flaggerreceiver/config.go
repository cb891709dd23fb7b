package flaggerreceiver // import "github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
	"github.com/otelcol-flagger/otelcol-flagger/receiver/flaggerreceiver/internal/metadata"
)

// Config configures the flagger receiver.
type Config struct {
	// ClusterName, when set, is stamped on every resource as k8s.cluster.name.
	ClusterName string `mapstructure:"cluster_name"`

	// MetricsInterval is how often the per-canary metrics are emitted.
	MetricsInterval time.Duration `mapstructure:"metrics_interval"`

	// Storage names a storage extension that keeps checkpoints across restarts, so a
	// restarted collector neither repeats nor skips changes.
	Storage *component.ID `mapstructure:"storage"`

	// DedupWindow is how long an event from one source waits for the same event from the
	// other source when both are on. Only used when kubernetes.events and webhook are both set.
	DedupWindow time.Duration `mapstructure:"dedup_window"`

	// Kubernetes reads Canaries and Flagger's Events from the Kubernetes API; omitted means off.
	Kubernetes configoptional.Optional[KubernetesConfig] `mapstructure:"kubernetes"`

	// Webhook receives Flagger's event webhook over HTTP; omitted means off.
	Webhook configoptional.Optional[WebhookConfig] `mapstructure:"webhook"`

	// MetricsBuilderConfig enables or disables each metric and resource attribute.
	metadata.MetricsBuilderConfig `mapstructure:",squash"`
}

// KubernetesConfig configures the Kubernetes API source.
type KubernetesConfig struct {
	// API selects how to authenticate: auth_type and context.
	API kube.APIConfig `mapstructure:",squash"`

	// Namespaces limits the watch to these namespaces; empty means all.
	Namespaces []string `mapstructure:"namespaces"`

	// Events also follows the core/v1 Events Flagger records on Canaries.
	Events bool `mapstructure:"events"`

	// LeaderElection, when set, lets only the replica holding the lease emit.
	LeaderElection configoptional.Optional[LeaderElectionConfig] `mapstructure:"leader_election"`
}

// LeaderElectionConfig names the Lease replicas compete for.
type LeaderElectionConfig struct {
	// LeaseName is the name of the coordination.k8s.io Lease.
	LeaseName string `mapstructure:"lease_name"`

	// LeaseNamespace is the namespace of the Lease.
	LeaseNamespace string `mapstructure:"lease_namespace"`

	// LeaseDuration is how long a lease is valid without renewal.
	LeaseDuration time.Duration `mapstructure:"lease_duration"`

	// RenewDeadline is how long the leader keeps trying to renew before it gives up.
	RenewDeadline time.Duration `mapstructure:"renew_deadline"`

	// RetryPeriod is how often candidates try to take or renew the lease.
	RetryPeriod time.Duration `mapstructure:"retry_period"`
}

// WebhookConfig configures the HTTP endpoint Flagger's event webhook posts to.
type WebhookConfig struct {
	// ServerConfig holds the standard HTTP server settings: endpoint, tls, auth,
	// max_request_body_size and the rest.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// Path is the URL path that accepts events.
	Path string `mapstructure:"path"`
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration without changing it.
func (cfg *Config) Validate() error {
	var errs []error
	if !cfg.Kubernetes.HasValue() && !cfg.Webhook.HasValue() {
		errs = append(errs, errors.New("at least one of kubernetes or webhook must be configured"))
	}
	if cfg.MetricsInterval <= 0 {
		errs = append(errs, fmt.Errorf("metrics_interval: must be positive, got %s", cfg.MetricsInterval))
	}
	if cfg.DedupWindow < 0 {
		errs = append(errs, fmt.Errorf("dedup_window: must not be negative, got %s", cfg.DedupWindow))
	}
	if cfg.Kubernetes.HasValue() {
		if err := cfg.Kubernetes.Get().validate(); err != nil {
			errs = append(errs, fmt.Errorf("kubernetes: %w", err))
		}
	}
	if cfg.Webhook.HasValue() {
		if err := cfg.Webhook.Get().validate(); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (kc *KubernetesConfig) validate() error {
	var errs []error
	if err := kc.API.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, ns := range kc.Namespaces {
		if strings.TrimSpace(ns) == "" {
			errs = append(errs, fmt.Errorf("namespaces[%d]: must not be empty", i))
		}
	}
	if kc.LeaderElection.HasValue() {
		if err := kc.LeaderElection.Get().validate(); err != nil {
			errs = append(errs, fmt.Errorf("leader_election: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (le *LeaderElectionConfig) validate() error {
	var errs []error
	if le.LeaseName == "" {
		errs = append(errs, errors.New("lease_name: must not be empty"))
	}
	if le.LeaseNamespace == "" {
		errs = append(errs, errors.New("lease_namespace: must not be empty"))
	}
	if le.RetryPeriod <= 0 || le.RenewDeadline <= le.RetryPeriod || le.LeaseDuration <= le.RenewDeadline {
		errs = append(errs, fmt.Errorf(
			"lease_duration (%s) must exceed renew_deadline (%s), which must exceed retry_period (%s) > 0",
			le.LeaseDuration, le.RenewDeadline, le.RetryPeriod))
	}
	return errors.Join(errs...)
}

func (wc *WebhookConfig) validate() error {
	var errs []error
	if wc.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must not be empty"))
	}
	if !strings.HasPrefix(wc.Path, "/") {
		errs = append(errs, fmt.Errorf("path: must start with /, got %q", wc.Path))
	}
	return errors.Join(errs...)
}
