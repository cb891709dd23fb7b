package canaryroleprocessor // import "github.com/otelcol-flagger/otelcol-flagger/processor/canaryroleprocessor"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Resource attributes the workload is read from, as k8sattributes names them.
const (
	attrNamespace  = "k8s.namespace.name"
	attrDeployment = "k8s.deployment.name"
	attrDaemonSet  = "k8s.daemonset.name"
	attrReplicaSet = "k8s.replicaset.name"
	attrPod        = "k8s.pod.name"

	// Flagger's default selector labels, in the order Flagger tries them, as k8sattributes
	// extracts them with its default tag names.
	attrLabelApp      = "k8s.pod.label.app"
	attrLabelName     = "k8s.pod.label.name"
	attrLabelAppK8sIO = "k8s.pod.label.app.kubernetes.io/name"
)

// safeChars are the characters Kubernetes uses in generated name suffixes: the
// pod-template-hash and the random suffix of a pod name.
const safeChars = "bcdfghjklmnpqrstvwxz2456789"

const (
	// maxHashLen is the length of the longest pod-template-hash: a 32-bit number in decimal.
	maxHashLen = 10
	// podSuffixLen is the length of the random suffix of a generated pod name.
	podSuffixLen = 5
)

// workloadAttrs holds the resource attributes a workload can be read from.
type workloadAttrs struct {
	namespace  string
	deployment string
	daemonSet  string
	replicaSet string
	pod        string
	labelApp   string
	labelName  string
	labelK8sIO string
}

// readWorkloadAttrs reads the attributes in one pass over the resource.
func readWorkloadAttrs(attrs pcommon.Map) workloadAttrs {
	var w workloadAttrs
	attrs.Range(func(k string, v pcommon.Value) bool {
		if v.Type() != pcommon.ValueTypeStr {
			return true
		}
		switch k {
		case attrNamespace:
			w.namespace = v.Str()
		case attrDeployment:
			w.deployment = v.Str()
		case attrDaemonSet:
			w.daemonSet = v.Str()
		case attrReplicaSet:
			w.replicaSet = v.Str()
		case attrPod:
			w.pod = v.Str()
		case attrLabelApp:
			w.labelApp = v.Str()
		case attrLabelName:
			w.labelName = v.Str()
		case attrLabelAppK8sIO:
			w.labelK8sIO = v.Str()
		}
		return true
	})
	return w
}

// resolve finds the stamp for a resource. The first attribute present decides, in this
// order: k8s.deployment.name, k8s.daemonset.name, k8s.replicaset.name without its
// pod-template-hash, k8s.pod.name without its generated suffixes, and the selector label
// (app, name, app.kubernetes.io/name).
//
// Note: a pod name is read as <deployment>-<hash>-<suffix> first and <daemonset>-<suffix>
// second; generated suffixes are recognised by their length and alphabet only, so a
// workload whose own name ends in such a segment can be mistaken for a shorter one when
// that shorter name is also a canary target. Likewise the selector label only matches when
// its value equals the target's name, as it does with Flagger's usual setup.
func resolve(idx *index, w *workloadAttrs) *stamp {
	if w.namespace == "" {
		return nil
	}
	switch {
	case w.deployment != "":
		return idx.lookup(w.namespace, w.deployment)
	case w.daemonSet != "":
		return idx.lookup(w.namespace, w.daemonSet)
	}
	if w.replicaSet != "" {
		if base, ok := trimSuffix(w.replicaSet, 1, maxHashLen); ok {
			return idx.lookup(w.namespace, base)
		}
	}
	if w.pod != "" {
		rest, ok := trimSuffix(w.pod, podSuffixLen, podSuffixLen)
		if ok {
			if base, ok := trimSuffix(rest, 1, maxHashLen); ok {
				if s := idx.lookup(w.namespace, base); s != nil {
					return s
				}
			}
			return idx.lookup(w.namespace, rest)
		}
	}
	switch {
	case w.labelApp != "":
		return idx.lookup(w.namespace, w.labelApp)
	case w.labelName != "":
		return idx.lookup(w.namespace, w.labelName)
	case w.labelK8sIO != "":
		return idx.lookup(w.namespace, w.labelK8sIO)
	}
	return nil
}

// trimSuffix removes a trailing "-<segment>" whose segment is between minLen and maxLen
// generated characters long, and reports whether it found one.
func trimSuffix(name string, minLen, maxLen int) (string, bool) {
	dash := strings.LastIndexByte(name, '-')
	if dash <= 0 {
		return "", false
	}
	seg := name[dash+1:]
	if len(seg) < minLen || len(seg) > maxLen {
		return "", false
	}
	for i := 0; i < len(seg); i++ {
		if strings.IndexByte(safeChars, seg[i]) < 0 {
			return "", false
		}
	}
	return name[:dash], true
}
