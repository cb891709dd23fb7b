package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"sort"

	"github.com/otelcol-flagger/otelcol-flagger/internal/kube"
)

const (
	roleCanary  = "canary"
	rolePrimary = "primary"

	// primarySuffix is what Flagger appends to the target's name, and to the value of its
	// selector label, for the primary workload it creates.
	primarySuffix = "-primary"
)

// workloadKey identifies a workload within the cluster.
type workloadKey struct {
	namespace string
	name      string
}

// stamp is what the processor writes on telemetry from one side of one canary. Fields the
// configuration does not stamp are left empty, so the hot path only tests them.
type stamp struct {
	role   string
	canary string

	hasWeight bool
	weight    int64
	phase     string
	revision  string
}

// index maps workloads to what is stamped on their telemetry. It is never changed once
// built: updates build a new index and swap it in whole.
type index struct {
	workloads map[workloadKey]*stamp
}

// conflict reports a workload claimed by two canaries; the first in key order keeps it.
type conflict struct {
	workload workloadKey
	kept     string
	dropped  string
}

// buildIndex combines the static canaries with the learned ones; a learned Canary replaces
// a static entry with the same namespace and name.
//
// Note: workloads are matched by namespace and name only, not by kind: a Deployment and a
// DaemonSet of the same name in one namespace are both taken for the Canary's target.
func buildIndex(static []CanaryConfig, learned map[string]*kube.Canary, opts StampConfig) (*index, []conflict) {
	merged := make(map[string]*kube.Canary, len(static)+len(learned))
	for _, c := range static {
		merged[c.Namespace+"/"+c.Name] = &kube.Canary{
			Namespace:  c.Namespace,
			Name:       c.Name,
			TargetName: c.target(),
		}
	}
	for key, c := range learned {
		merged[key] = c
	}

	keys := make([]string, 0, len(merged))
	for key := range merged {
		keys = append(keys, key)
	}
	sort.Strings(keys)

	idx := &index{workloads: make(map[workloadKey]*stamp, 2*len(merged))}
	owner := make(map[workloadKey]string, 2*len(merged))
	var conflicts []conflict
	add := func(k workloadKey, s *stamp, canaryKey string) {
		if kept, taken := owner[k]; taken {
			conflicts = append(conflicts, conflict{workload: k, kept: kept, dropped: canaryKey})
			return
		}
		owner[k] = canaryKey
		idx.workloads[k] = s
	}
	for _, key := range keys {
		c := merged[key]
		if c.TargetName == "" {
			// A Canary without a target has nothing to match.
			continue
		}
		canary, primary := stampsFor(c, opts)
		add(workloadKey{namespace: c.Namespace, name: c.TargetName}, canary, key)
		add(workloadKey{namespace: c.Namespace, name: c.TargetName + primarySuffix}, primary, key)
	}
	return idx, conflicts
}

// stampsFor returns the stamps of the canary side and of the primary side.
//
// Note: the primary's weight is 100 minus the canary's status.canaryWeight. That describes
// progressive traffic shifting; with A/B testing or blue/green, where Flagger routes by
// header or switches at once, the weights do not describe the traffic. Weight, phase and
// revision are those of the last Canary update the collector has seen, so telemetry
// recorded before a change but processed after it carries the new values.
func stampsFor(c *kube.Canary, opts StampConfig) (canary, primary *stamp) {
	canary = &stamp{role: roleCanary, canary: c.Name}
	primary = &stamp{role: rolePrimary, canary: c.Name}
	if opts.Weight && c.HasStatus {
		canary.hasWeight, canary.weight = true, c.Weight
		primary.hasWeight, primary.weight = true, 100-c.Weight
	}
	if opts.Phase {
		canary.phase, primary.phase = c.Phase, c.Phase
	}
	if opts.Revision {
		canary.revision, primary.revision = c.Revision, c.Revision
	}
	return canary, primary
}

func (idx *index) lookup(namespace, workload string) *stamp {
	if workload == "" {
		return nil
	}
	return idx.workloads[workloadKey{namespace: namespace, name: workload}]
}
