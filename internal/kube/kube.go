// Package kube is deploy's one client of a running cluster: the REST
// configuration built from the parsed admin kubeconfig, a dynamic client,
// a RESTMapper over in-memory discovery, and the RESTClientGetter the Helm
// SDK takes. internal/stack (/stack and the bundle's CNI) and
// internal/cluster (deploy status) both open the cluster here.
//
// The rule for reaching the cluster: kubectl over SSH on the first master
// only before the admin kubeconfig exists (the /kubernetes phases: joins,
// pod network, readiness). Once /kubernetes has copied it into the state
// directory, everything goes through this package, from the deploy node.
//
// The kubeconfig is hostile input (it came from a master): it is parsed by
// internal/kubeconfig, which takes kubeadm's shape only (the client
// certificate inline; no exec or auth-provider plugin, file path or proxy)
// and, given the endpoint deploy configured, refuses any other server. The
// client configuration is built from the parsed fields, never by
// clientcmd's loaders. Open contacts nothing.
package kube

import (
	"bytes"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/factory-appliance/appliance/internal/kubeconfig"
)

// Options tune the client. The zero value is client-go's defaults.
type Options struct {
	// UserAgent names the caller in the API server's logs.
	UserAgent string
	// Timeout bounds every request (0: none).
	Timeout time.Duration
	// QPS and Burst raise client-go's rate limit (5 per second) for
	// callers that issue many small requests (Helm and the waits).
	QPS   float32
	Burst int
}

// Cluster is a client of one cluster. It is safe for concurrent use.
type Cluster struct {
	// Admin is the parsed kubeconfig.
	Admin *kubeconfig.Admin
	// Config is the REST configuration built from Admin; callers copy it
	// before changing it.
	Config *rest.Config
	// Dynamic reads and writes any resource.
	Dynamic dynamic.Interface
	// Discovery is cached in memory (nothing is written under $HOME).
	Discovery discovery.CachedDiscoveryInterface
	// Mapper maps kinds to resources; Reset it to learn kinds that
	// appeared since (a CRD just established).
	Mapper *restmapper.DeferredDiscoveryRESTMapper
}

// Open loads the admin kubeconfig at path (kubeconfig.Load: kubeadm's
// shape only, and its server must be https://endpoint when endpoint, HOST:
// PORT, is not "") and builds the clients. It contacts nothing.
func Open(path, endpoint string, o Options) (*Cluster, error) {
	admin, err := kubeconfig.Load(path, endpoint)
	if err != nil {
		return nil, err
	}
	cfg := admin.RESTConfig()
	cfg.UserAgent = o.UserAgent
	cfg.Timeout = o.Timeout
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, o.Burst
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Cluster{Admin: admin, Config: cfg, Dynamic: dyn, Discovery: cached,
		Mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}, nil
}

// Getter is what the Helm SDK takes to reach the cluster, with namespace
// as the kubeconfig's namespace. Unlike genericclioptions.ConfigFlags it
// shares the cluster's in-memory discovery and RESTMapper and reads no
// file.
func (c *Cluster) Getter(namespace string) genericclioptions.RESTClientGetter {
	return getter{c: c, namespace: namespace}
}

type getter struct {
	c         *Cluster
	namespace string
}

func (g getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.c.Config), nil }

func (g getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.c.Discovery, nil
}

func (g getter) ToRESTMapper() (meta.RESTMapper, error) { return g.c.Mapper, nil }

// ToRawKubeConfigLoader is the kubeconfig, built in memory from its parsed
// fields (the client certificate inline, nothing else), so that no loader
// reads the file again.
func (g getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	a := g.c.Admin
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[a.Cluster] = &clientcmdapi.Cluster{Server: a.Server, CertificateAuthorityData: bytes.Clone(a.CAData)}
	cfg.AuthInfos[a.User] = &clientcmdapi.AuthInfo{ClientCertificateData: bytes.Clone(a.CertData), ClientKeyData: bytes.Clone(a.KeyData)}
	cfg.Contexts[a.Context] = &clientcmdapi.Context{Cluster: a.Cluster, AuthInfo: a.User}
	cfg.CurrentContext = a.Context
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}
