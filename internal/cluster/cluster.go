// Package cluster reads what deploy status shows of a running cluster, its
// nodes and its Helm releases, through the cluster-admin kubeconfig. It only
// reads: it never changes anything in the cluster.
package cluster

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client reads a cluster through one kubeconfig. It is safe for
// concurrent use.
type Client struct {
	cs kubernetes.Interface
}

// Open loads the kubeconfig at path (its current context) and returns a
// client whose every request is bounded by timeout. It contacts nothing.
func Open(path string, timeout time.Duration) (*Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cfg.Timeout = timeout
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return &Client{cs: cs}, nil
}
