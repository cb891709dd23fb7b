package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

// Config configures the canaryrole processor.
type Config struct {
	// Kubernetes learns canaries, their targets and their status from Flagger's Canary
	// objects; omitted means off.
	Kubernetes configoptional.Optional[KubernetesConfig] `mapstructure:"kubernetes"`

	// Canaries lists canaries by hand, for local runs or clusters the collector cannot read.
	Canaries []CanaryConfig `mapstructure:"canaries"`

	// Stamp selects the optional attributes stamped beside the role and the canary name.
	Stamp StampConfig `mapstructure:"stamp"`

	// MetricLabels also puts the role and the canary name on every metric data point, so
	// that exporters which drop resource attributes still emit them as labels.
	MetricLabels bool `mapstructure:"metric_labels"`

	// Override replaces attributes the sender already set; by default they are kept.
	Override bool `mapstructure:"override"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// KubernetesConfig configures the Kubernetes API source.
type KubernetesConfig struct {
	// API selects how to authenticate: auth_type and context.
	API kube.APIConfig `mapstructure:",squash"`

	// Namespaces limits the watch to these namespaces; empty means all.
	Namespaces []string `mapstructure:"namespaces"`
}

// CanaryConfig names one canary and the workload it rolls out.
type CanaryConfig struct {
	// Namespace is the namespace of the Canary and of its target.
	Namespace string `mapstructure:"namespace"`

	// Name is the name of the Canary.
	Name string `mapstructure:"name"`

	// Target is the name of the Canary's targetRef; empty means the same as name.
	Target string `mapstructure:"target"`
}

// target returns the workload the canary rolls out.
func (c CanaryConfig) target() string {
	if c.Target == "" {
		return c.Name
	}
	return c.Target
}

// StampConfig turns on the attributes that follow the Canary's status.
type StampConfig struct {
	// Weight stamps flagger.canary.weight: the canary's share of traffic on the canary
	// side, the rest on the primary side.
	Weight bool `mapstructure:"weight"`

	// Phase stamps flagger.canary.phase, the Canary's status.phase.
	Phase bool `mapstructure:"phase"`

	// Revision stamps flagger.canary.revision, the Canary's status.lastAppliedSpec.
	Revision bool `mapstructure:"revision"`
}

// Validate checks the configuration without changing it.
func (cfg *Config) Validate() error {
	if !cfg.Kubernetes.HasValue() && len(cfg.Canaries) == 0 {
		return errors.New("kubernetes, canaries: no source of canaries; set at least one")
	}
	if k := cfg.Kubernetes.Get(); k != nil {
		if err := k.API.Validate(); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		for i, ns := range k.Namespaces {
			if ns == "" {
				return fmt.Errorf("kubernetes.namespaces[%d]: must not be empty", i)
			}
		}
	}
	seen := make(map[string]int, len(cfg.Canaries))
	targets := make(map[string]int, len(cfg.Canaries))
	for i, c := range cfg.Canaries {
		if c.Namespace == "" {
			return fmt.Errorf("canaries[%d].namespace: must be set", i)
		}
		if c.Name == "" {
			return fmt.Errorf("canaries[%d].name: must be set", i)
		}
		key := c.Namespace + "/" + c.Name
		if j, dup := seen[key]; dup {
			return fmt.Errorf("canaries[%d]: %s is already listed as canaries[%d]", i, key, j)
		}
		seen[key] = i
		target := c.Namespace + "/" + c.target()
		if j, dup := targets[target]; dup {
			return fmt.Errorf("canaries[%d].target: %s is already the target of canaries[%d]", i, target, j)
		}
		targets[target] = i
	}
	return nil
}
