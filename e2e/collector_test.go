package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/cluster"
	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/collector"
)

// TestCollectorStarts runs the collector's flagger receiver against the
// cluster as the shipped ServiceAccount, with Flagger's event webhook
// pointed at it, and checks that it comes up and takes its Lease.
func TestCollectorStarts(t *testing.T) {
	requireE2E(t)
	bin := collector.RequireBin(t)
	t.Parallel()

	hookPort, err := collector.FreePort()
	require.NoError(t, err)
	hookEndpoint := fmt.Sprintf("127.0.0.1:%d", hookPort)

	c := cluster.Start(t, cluster.Options{
		EventWebhookURL: "http://" + hookEndpoint + "/events",
	})
	kubeconfig := c.ApplyCollectorIdentity(t)

	col := collector.Start(t, collector.Options{
		Bin: bin,
		Receivers: map[string]any{
			"flagger": map[string]any{
				"kubernetes": map[string]any{
					"auth_type":       "kubeConfig",
					"leader_election": map[string]any{},
				},
				"webhook": map[string]any{"endpoint": hookEndpoint, "path": "/events"},
			},
		},
		Logs:    &collector.Pipeline{Receivers: []string{"flagger"}},
		Metrics: &collector.Pipeline{Receivers: []string{"flagger"}},
		Env:     []string{"KUBECONFIG=" + kubeconfig},
	})
	t.Logf("collector running, log %s", col.LogPath())

	require.Eventually(t, func() bool {
		lease, err := c.Kube.CoordinationV1().Leases(cluster.CollectorNamespace).
			Get(t.Context(), "otelcol-flagger", metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	}, 30*time.Second, 250*time.Millisecond, "the collector never took its leader election Lease")
}
