package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// Collector identity as configs/kubernetes ships it.
const (
	CollectorNamespace      = "flagger-system"
	CollectorServiceAccount = "otel-collector"
)

// identityKinds are the kinds ApplyCollectorIdentity takes from the
// manifests; the workload itself does not run here.
var identityKinds = map[string]bool{
	"Namespace":          true,
	"ServiceAccount":     true,
	"ClusterRole":        true,
	"ClusterRoleBinding": true,
	"Role":               true,
	"RoleBinding":        true,
}

// RepoRoot returns the repository root, found from this source file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)

	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// ApplyCollectorIdentity applies the namespace, ServiceAccount and RBAC
// objects from the shipped manifests in configs/kubernetes and returns a
// kubeconfig that authenticates as that ServiceAccount, so the collector
// runs with exactly the rights a real deployment grants it.
func (c *Cluster) ApplyCollectorIdentity(t testing.TB) string {
	t.Helper()

	paths, err := filepath.Glob(filepath.Join(RepoRoot(), "configs", "kubernetes", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no manifests in configs/kubernetes")

	var selected bytes.Buffer
	for _, path := range paths {
		objs, err := readManifests(path)
		require.NoError(t, err)

		for _, obj := range objs {
			if !identityKinds[obj.GetKind()] {
				continue
			}
			data, err := obj.MarshalJSON()
			require.NoError(t, err)
			selected.Write(data)
			selected.WriteByte('\n')
		}
	}
	require.NoError(t, c.Apply(t.Context(), selected.Bytes()))

	return c.ServiceAccountKubeconfig(t, CollectorNamespace, CollectorServiceAccount)
}

func readManifests(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}

	var out []*unstructured.Unstructured
	decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode %s: %w", filepath.Base(path), err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}
