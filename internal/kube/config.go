package kube // import "github.com/otelcol-flagger/otelcol-flagger/internal/kube"

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// AuthType names how a component authenticates to the Kubernetes API.
type AuthType string

const (
	// AuthTypeNone connects without credentials, to the host in KUBERNETES_SERVICE_HOST.
	AuthTypeNone AuthType = "none"
	// AuthTypeServiceAccount uses the pod's mounted ServiceAccount token.
	AuthTypeServiceAccount AuthType = "serviceAccount"
	// AuthTypeKubeConfig uses KUBECONFIG, or ~/.kube/config when it is unset.
	AuthTypeKubeConfig AuthType = "kubeConfig"
)

// APIConfig selects how a component reaches the Kubernetes API.
type APIConfig struct {
	// AuthType is one of none, serviceAccount or kubeConfig.
	AuthType AuthType `mapstructure:"auth_type"`

	// Context is the kubeconfig context to use with auth_type kubeConfig; empty means current.
	Context string `mapstructure:"context"`
}

// Validate checks the authentication settings.
func (c APIConfig) Validate() error {
	switch c.AuthType {
	case AuthTypeNone, AuthTypeServiceAccount, AuthTypeKubeConfig:
	default:
		return fmt.Errorf("auth_type: %q is not one of %q, %q, %q",
			c.AuthType, AuthTypeNone, AuthTypeServiceAccount, AuthTypeKubeConfig)
	}
	if c.Context != "" && c.AuthType != AuthTypeKubeConfig {
		return errors.New("context: only used with auth_type kubeConfig")
	}
	return nil
}

// RESTConfig builds the client configuration the settings describe.
func (c APIConfig) RESTConfig() (*rest.Config, error) {
	var (
		cfg *rest.Config
		err error
	)
	switch c.AuthType {
	case AuthTypeKubeConfig:
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	case AuthTypeServiceAccount:
		cfg, err = rest.InClusterConfig()
	case AuthTypeNone:
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("auth_type none: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
		}
		cfg = &rest.Config{Host: "https://" + host + ":" + port}
		cfg.Insecure = true
	default:
		return nil, fmt.Errorf("unknown auth_type %q", c.AuthType)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to load kubernetes client config (auth_type %s): %w", c.AuthType, err)
	}
	return cfg, nil
}

// Clients are the API clients the components use.
type Clients struct {
	// Dynamic reads Flagger Canaries as unstructured objects.
	Dynamic dynamic.Interface
	// Core reads Events and Leases.
	Core kubernetes.Interface
}

// NewClients builds both clients from the settings.
func (c APIConfig) NewClients() (Clients, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return Clients{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("failed to create dynamic client: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Clients{}, fmt.Errorf("failed to create kubernetes client: %w", err)
	}
	return Clients{Dynamic: dyn, Core: core}, nil
}
