// Package cluster runs a small Kubernetes control plane on loopback for the
// end-to-end tests: etcd, kube-apiserver, kube-controller-manager, kwok with
// one fake node, and Flagger. Every process is stopped when the test ends.
package cluster
