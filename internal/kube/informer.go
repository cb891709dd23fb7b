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

// NewCanaryInformers returns one informer per namespace (one for all namespaces when the
// list is empty). Objects are cached as unstructured, so a Canary that does not fit Flagger's
// types reaches the handler instead of failing the whole list.
func NewCanaryInformers(client dynamic.Interface, namespaces []string, resync time.Duration) []cache.SharedIndexInformer {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	informers := make([]cache.SharedIndexInformer, 0, len(namespaces))
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, resync, ns, nil)
		inf := f.ForResource(CanaryGVR).Informer()
		_ = inf.SetTransform(StripForCache)
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
