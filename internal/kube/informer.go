package kube // import "github.com/otelcol-flagger/otelcol-flagger/internal/kube"

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// lastAppliedAnnotation is what `kubectl apply` keeps on every object it wrote: a full copy of
// the spec that nothing here reads.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// StripForCache drops what the components never read from an object before the informer
// caches it: managed fields and kubectl's last-applied copy of the object.
func StripForCache(obj any) (any, error) {
	acc, ok := obj.(metav1.Object)
	if !ok {
		// cache.DeletedFinalStateUnknown and anything else pass through untouched.
		return obj, nil
	}
	acc.SetManagedFields(nil)
	if ann := acc.GetAnnotations(); ann != nil {
		if _, found := ann[lastAppliedAnnotation]; found {
			delete(ann, lastAppliedAnnotation)
			acc.SetAnnotations(ann)
		}
	}
	return obj, nil
}

// Fields of a Canary that CanaryFromUnstructured reads; PruneCanary keeps only these.
var (
	keptMetadata = []string{"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}
	keptStatus   = []string{"phase", "canaryWeight", "failedChecks", "iterations", "lastAppliedSpec", "lastTransitionTime"}
)

// PruneCanary reduces a Canary to the fields the components read before the informer caches
// it: a Canary's analysis spec, conditions and kubectl's copy of it are several KiB that
// nothing here looks at. Values are kept as they are, so a field of the wrong type is still
// seen, and reported, by CanaryFromUnstructured.
func PruneCanary(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return StripForCache(obj)
	}
	pruned := map[string]any{}
	for _, k := range []string{"apiVersion", "kind"} {
		if v, found := u.Object[k]; found {
			pruned[k] = v
		}
	}
	if md, isMap := u.Object["metadata"].(map[string]any); isMap {
		pruned["metadata"] = pick(md, keptMetadata)
	}
	if spec, isMap := u.Object["spec"].(map[string]any); isMap {
		if ref, found := spec["targetRef"]; found {
			pruned["spec"] = map[string]any{"targetRef": ref}
		}
	}
	if status, found := u.Object["status"]; found {
		if m, isMap := status.(map[string]any); isMap {
			status = pick(m, keptStatus)
		}
		pruned["status"] = status
	}
	return &unstructured.Unstructured{Object: pruned}, nil
}

func pick(m map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, found := m[k]; found {
			out[k] = v
		}
	}
	return out
}

// NewCanaryInformers returns one informer per namespace (one for all namespaces when the
// list is empty). Objects are cached as unstructured and pruned, so a Canary that does not
// fit Flagger's types reaches the handler instead of failing the whole list.
func NewCanaryInformers(client dynamic.Interface, namespaces []string, resync time.Duration) []cache.SharedIndexInformer {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	informers := make([]cache.SharedIndexInformer, 0, len(namespaces))
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, resync, ns, nil)
		inf := f.ForResource(CanaryGVR).Informer()
		_ = inf.SetTransform(PruneCanary)
		informers = append(informers, inf)
	}
	return informers
}

// Unwrap returns the unstructured object behind a handler argument, including the final
// state carried by cache.DeletedFinalStateUnknown. ok is false for anything else.
func Unwrap(obj any) (*unstructured.Unstructured, bool) {
	if d, isTombstone := obj.(cache.DeletedFinalStateUnknown); isTombstone {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	return u, ok
}
