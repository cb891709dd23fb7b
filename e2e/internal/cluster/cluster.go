package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/otelcol-flagger/otelcol-flagger/e2e/internal/proc"
)

// FakeNodeName is the node kwok pretends to run; pods must set it as
// nodeName because the cluster has no scheduler.
const FakeNodeName = "kwok-node-0"

// Options configures Start.
type Options struct {
	// ToolsDir holds what build-tools.sh built; empty means ToolsDir().
	ToolsDir string

	// EventWebhookURL is passed to Flagger as -event-webhook; empty
	// means Flagger sends no event webhooks.
	EventWebhookURL string

	// StartTimeout bounds how long each component may take to become
	// ready; zero means two minutes.
	StartTimeout time.Duration
}

// Cluster is a running control plane. Its fields are read-only.
type Cluster struct {
	// Dir holds certificates, kubeconfigs, etcd data and the logs.
	Dir string

	// Server is the API server URL.
	Server string

	// AdminKubeconfig is a kubeconfig with cluster-admin rights.
	AdminKubeconfig string

	// Config is the admin REST config.
	Config *rest.Config

	// Kube is an admin clientset.
	Kube kubernetes.Interface

	// Dynamic is an admin dynamic client.
	Dynamic dynamic.Interface

	toolsDir     string
	startTimeout time.Duration
	pki          *pki
	apiServer    *proc.Process
	procs        []*proc.Process
}

// Start brings a cluster up and registers its teardown with t.Cleanup. If
// the test fails, the tail of every component's log is written to the test
// log.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()

	began := time.Now()
	c := &Cluster{
		toolsDir:     opts.ToolsDir,
		startTimeout: opts.StartTimeout,
	}
	if c.toolsDir == "" {
		c.toolsDir = ToolsDir()
	}
	if c.startTimeout == 0 {
		c.startTimeout = 2 * time.Minute
	}
	require.NoError(t, checkTools(c.toolsDir))

	c.Dir = workDir(t)
	t.Cleanup(func() { c.teardown(t) })

	ports, err := freePorts(6)
	require.NoError(t, err)
	etcdPort, peerPort, apiPort, kcmPort, kwokPort, flaggerPort :=
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]

	c.pki, err = newPKI(c.Dir)
	require.NoError(t, err)

	adminToken, err := randomToken()
	require.NoError(t, err)
	tokenFile := filepath.Join(c.Dir, "tokens.csv")
	require.NoError(t, os.WriteFile(tokenFile,
		[]byte(adminToken+`,admin,admin,"system:masters"`+"\n"), 0o600))

	ctx := t.Context()

	t.Log("starting etcd")
	etcd := c.newProcess(etcdBin, etcdArgs(c.Dir, etcdPort, peerPort)...)
	require.NoError(t, etcd.Start())
	etcdHealth := fmt.Sprintf("http://127.0.0.1:%d/health", etcdPort)
	require.NoError(t, c.waitFor(ctx, etcd, func() error {
		return httpOK(ctx, http.DefaultClient, etcdHealth)
	}))

	t.Log("starting kube-apiserver")
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.apiServer = c.newProcess(apiServerBin, apiServerArgs(c.Dir, c.pki, tokenFile, etcdPort, apiPort)...)
	require.NoError(t, c.apiServer.Start())

	c.Config = &rest.Config{
		Host:            c.Server,
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		QPS:             50,
		Burst:           100,
		WarningHandler:  rest.NoWarnings{},
	}
	c.Kube, err = kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)
	c.Dynamic, err = dynamic.NewForConfig(c.Config)
	require.NoError(t, err)
	require.NoError(t, c.waitAPIServerReady(ctx))

	c.AdminKubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	require.NoError(t, writeKubeconfig(c.AdminKubeconfig, c.Server, c.pki.caPEM, "admin", adminToken))

	t.Log("starting kube-controller-manager")
	kcm := c.newProcess(controllerManagerBin,
		"--kubeconfig="+c.AdminKubeconfig,
		"--controllers=deployment,replicaset,garbagecollector,namespace,serviceaccount",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort),
		"--cert-dir="+filepath.Join(c.Dir, "kcm-certs"),
	)
	require.NoError(t, kcm.Start())
	insecure := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed, loopback only
	}}
	kcmHealth := fmt.Sprintf("https://127.0.0.1:%d/healthz", kcmPort)
	require.NoError(t, c.waitFor(ctx, kcm, func() error {
		return httpOK(ctx, insecure, kcmHealth)
	}))

	t.Log("starting kwok with node " + FakeNodeName)
	_, err = c.Kube.CoreV1().Nodes().Create(ctx, fakeNode(), metav1.CreateOptions{})
	require.NoError(t, err)
	kwok := c.newProcess(kwokBin,
		"--kubeconfig="+c.AdminKubeconfig,
		"--config="+filepath.Join(c.toolsDir, kwokStagesFile),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--cidr=10.244.0.0/16",
		"--node-ip=10.244.0.1",
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort),
	)
	require.NoError(t, kwok.Start())
	require.NoError(t, c.waitFor(ctx, kwok, func() error {
		return c.nodeReady(ctx)
	}))

	t.Log("applying Flagger's CRDs")
	crd, err := os.ReadFile(filepath.Join(c.toolsDir, flaggerCRDFile))
	require.NoError(t, err)
	require.NoError(t, c.Apply(ctx, crd))
	require.NoError(t, c.waitFor(ctx, nil, func() error {
		_, err := c.Dynamic.Resource(CanaryGVR).Namespace("default").List(ctx, metav1.ListOptions{})
		return err
	}))

	t.Log("starting flagger")
	flaggerArgs := []string{
		"-kubeconfig=" + c.AdminKubeconfig,
		"-mesh-provider=kubernetes",
		// Nothing listens there: the canaries in these tests use no metrics.
		"-metrics-server=http://127.0.0.1:1",
		"-port=" + strconv.Itoa(flaggerPort),
		"-log-level=debug",
	}
	if opts.EventWebhookURL != "" {
		flaggerArgs = append(flaggerArgs, "-event-webhook="+opts.EventWebhookURL)
	}
	flagger := c.newProcess(flaggerBin, flaggerArgs...)
	require.NoError(t, flagger.Start())
	flaggerHealth := fmt.Sprintf("http://127.0.0.1:%d/healthz", flaggerPort)
	require.NoError(t, c.waitFor(ctx, flagger, func() error {
		return httpOK(ctx, http.DefaultClient, flaggerHealth)
	}))

	t.Logf("cluster ready at %s in %s (work dir %s)", c.Server,
		time.Since(began).Round(100*time.Millisecond), c.Dir)

	return c
}

// StopAPIServer stops the API server; the rest of the cluster keeps running.
// The API server stops listening at once on SIGTERM but can take half a
// minute to exit while watches drain, so it is killed after five seconds.
func (c *Cluster) StopAPIServer(t testing.TB) {
	t.Helper()

	c.apiServer.Stop(5 * time.Second)
}

// StartAPIServer starts the API server again after StopAPIServer, on the
// same address and storage, and waits until it is ready.
func (c *Cluster) StartAPIServer(t testing.TB) {
	t.Helper()

	require.NoError(t, c.apiServer.Start())
	require.NoError(t, c.waitAPIServerReady(t.Context()))
}

// RestartAPIServer stops the API server and starts it again.
func (c *Cluster) RestartAPIServer(t testing.TB) {
	t.Helper()

	c.StopAPIServer(t)
	c.StartAPIServer(t)
}

// LogPath returns the log file of a component: etcd, kube-apiserver,
// kube-controller-manager, kwok or flagger.
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.Dir, component+".log")
}

func (c *Cluster) newProcess(name string, args ...string) *proc.Process {
	p := &proc.Process{
		Name:    name,
		Bin:     filepath.Join(c.toolsDir, name),
		Args:    args,
		LogPath: c.LogPath(name),
	}
	c.procs = append(c.procs, p)

	return p
}

// teardown stops the processes in reverse start order and, if the test
// failed, writes the tail of each log.
func (c *Cluster) teardown(t testing.TB) {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].Stop(10 * time.Second)
	}

	if !t.Failed() {
		return
	}

	for _, p := range c.procs {
		t.Logf("---- last lines of %s ----\n%s", p.LogPath, p.Tail(40))
	}
}

// waitFor polls check until it succeeds, the start timeout passes, or p
// (if not nil) exits.
func (c *Cluster) waitFor(ctx context.Context, p *proc.Process, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, c.startTimeout)
	defer cancel()

	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()

	for {
		err := check()
		if err == nil {
			return nil
		}

		if p != nil {
			if exited, exitErr := p.Exited(); exited {
				return fmt.Errorf("%s exited (%v); log tail:\n%s", p.Name, exitErr, p.Tail(20))
			}
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", c.startTimeout, err)
		case <-ticker.C:
		}
	}
}

func (c *Cluster) waitAPIServerReady(ctx context.Context) error {
	return c.waitFor(ctx, c.apiServer, func() error {
		body, err := c.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("readyz: %w: %s", err, body)
		}
		return nil
	})
}

func (c *Cluster) nodeReady(ctx context.Context) error {
	node, err := c.Kube.CoreV1().Nodes().Get(ctx, FakeNodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}

	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}

	return errors.New("node " + FakeNodeName + " is not ready")
}

func workDir(t testing.TB) string {
	// E2E_KEEP_DIR keeps logs and state for a look after the run.
	if base := os.Getenv("E2E_KEEP_DIR"); base != "" {
		require.NoError(t, os.MkdirAll(base, 0o755))
		dir, err := os.MkdirTemp(base, "cluster-")
		require.NoError(t, err)
		return dir
	}

	return t.TempDir()
}

func etcdArgs(dir string, clientPort, peerPort int) []string {
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)

	return []string{
		"--name=e2e",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=e2e=" + peer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

func apiServerArgs(dir string, p *pki, tokenFile string, etcdPort, port int) []string {
	return []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + p.servingCertPath,
		"--tls-private-key-file=" + p.servingKeyPath,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPubPath,
		"--service-account-signing-key-file=" + p.saKeyPath,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--disable-admission-plugins=ServiceAccount",
		// The loopback address cannot be written to the kubernetes
		// Service's endpoints, and nothing here needs them.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
}

func fakeNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        FakeNodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels: map[string]string{
				"type":                   "kwok",
				"kubernetes.io/hostname": FakeNodeName,
				"kubernetes.io/os":       "linux",
			},
		},
	}
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}

	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}

	return nil
}
