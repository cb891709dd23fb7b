package kube // import "github.com/otelcol-flagger/otelcol-flagger/internal/kube"

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CanaryGVR is the resource of Flagger's Canary objects.
var CanaryGVR = schema.GroupVersionResource{
	Group:    "flagger.app",
	Version:  "v1beta1",
	Resource: "canaries",
}

// Canary is the part of a Flagger Canary the components read.
type Canary struct {
	// Namespace and Name identify the Canary.
	Namespace string
	Name      string
	// UID tells a re-created Canary from the one it replaces.
	UID string
	// Created is metadata.creationTimestamp.
	Created time.Time
	// TargetKind and TargetName are spec.targetRef: the workload Flagger rolls out.
	TargetKind string
	TargetName string
	// HasStatus is false until Flagger first writes the status.
	HasStatus bool
	// Phase is status.phase, passed through as Flagger wrote it.
	Phase string
	// Weight is status.canaryWeight: the percentage of traffic on the canary.
	Weight int64
	// FailedChecks is status.failedChecks.
	FailedChecks int64
	// Iterations is status.iterations.
	Iterations int64
	// Revision is status.lastAppliedSpec, the hash of the target's pod template.
	Revision string
	// LastTransitionTime is status.lastTransitionTime.
	LastTransitionTime time.Time
}

// Key is "namespace/name".
func (c *Canary) Key() string {
	return c.Namespace + "/" + c.Name
}

// CanaryFromUnstructured reads a Canary field by field, without reflection: Flagger rewrites
// every Canary each analysis interval, so this runs often. A field of the wrong type is
// skipped and reported in the returned error together with the rest of the Canary. It
// returns a nil Canary only when the object has no namespace or name.
func CanaryFromUnstructured(u *unstructured.Unstructured) (*Canary, error) {
	if u.GetName() == "" || u.GetNamespace() == "" {
		return nil, errors.New("canary without namespace or name")
	}
	return fromFields(u)
}

func fromFields(u *unstructured.Unstructured) (*Canary, error) {
	c := &Canary{
		Namespace: u.GetNamespace(),
		Name:      u.GetName(),
		UID:       string(u.GetUID()),
		Created:   u.GetCreationTimestamp().UTC(),
	}
	var errs []error
	str := func(dst *string, path ...string) {
		v, found, err := unstructured.NestedFieldNoCopy(u.Object, path...)
		if !found || err != nil {
			return
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: want a string, got %T", joinPath(path), v))
			return
		}
		*dst = s
	}
	num := func(dst *int64, path ...string) {
		v, found, err := unstructured.NestedFieldNoCopy(u.Object, path...)
		if !found || err != nil {
			return
		}
		switch n := v.(type) {
		case int64:
			*dst = n
		case float64:
			*dst = int64(n)
		default:
			errs = append(errs, fmt.Errorf("%s: want a number, got %T", joinPath(path), v))
		}
	}
	str(&c.TargetKind, "spec", "targetRef", "kind")
	str(&c.TargetName, "spec", "targetRef", "name")
	if status, ok := u.Object["status"]; ok {
		if _, isMap := status.(map[string]any); isMap {
			c.HasStatus = true
		} else {
			errs = append(errs, fmt.Errorf("status: want an object, got %T", status))
		}
	}
	if c.HasStatus {
		str(&c.Phase, "status", "phase")
		num(&c.Weight, "status", "canaryWeight")
		num(&c.FailedChecks, "status", "failedChecks")
		num(&c.Iterations, "status", "iterations")
		str(&c.Revision, "status", "lastAppliedSpec")
		var ts string
		str(&ts, "status", "lastTransitionTime")
		if ts != "" {
			t, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				errs = append(errs, fmt.Errorf("status.lastTransitionTime: %w", err))
			} else {
				c.LastTransitionTime = t.UTC()
			}
		}
	}
	if len(errs) == 0 {
		return c, nil
	}
	return c, fmt.Errorf("canary %s: %w", c.Key(), errors.Join(errs...))
}

func joinPath(path []string) string {
	out := ""
	for i, p := range path {
		if i > 0 {
			out += "."
		}
		out += p
	}
	return out
}
