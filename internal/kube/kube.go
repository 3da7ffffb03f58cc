// Package kube is deploy's one client of a running cluster: the REST
// configuration built from the parsed admin kubeconfig, the typed client
// set (answers decoded into client-go's types), a dynamic client, a
// RESTMapper over in-memory discovery, and the RESTClientGetter the Helm
// SDK takes. internal/stack (/stack and the bundle's CNI) and
// internal/deploy/status (deploy status: nodes and Helm releases) both open
// the cluster here; nothing else decodes the API server's answers.
//
// The rule for reaching the cluster: kubectl over SSH on the first master
// for the steps of the nodes' kubeadm lifecycle, which run beside kubeadm
// on the hosts (internal/kubeadm/steps: joins, readiness, etcd membership,
// drains, upgrades, removals; before /kubernetes has copied the admin
// kubeconfig, and while kubeadm renews it on the masters). Everything else
// (the stack, the pod network's manifests, deploy status, the upgrade's
// dry run) goes through this package, from the deploy node, with the state
// directory's copy of the admin kubeconfig.
//
// The kubeconfig is hostile input (it came from a master): it is parsed by
// internal/kubeconfig, which takes kubeadm's shape only (the client
// certificate inline; no exec or auth-provider plugin, file path or proxy)
// and, given the endpoint deploy configured, refuses any other server. The
// client configuration is built from the parsed fields, never by
// clientcmd's loaders. Open contacts nothing. The cluster's answers are
// hostile input too: a caller that reads them whole bounds them
// (Options.MaxAnswer).
package kube

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/termtext"
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
	// MaxAnswer bounds the body of every answer, in bytes (0: none): a
	// request whose answer is longer fails, having read MaxAnswer+1 bytes
	// of it. Not for watches, whose answers do not end.
	MaxAnswer int64
	// Warnings receives the API server's warnings (the Warning headers
	// of its answers), one line each with control characters escaped, so
	// that a compromised master cannot write escape codes to the
	// operator's terminal. Nil discards them; client-go's default would
	// print them raw through klog.
	Warnings io.Writer
}

// Cluster is a client of one cluster. It is safe for concurrent use.
type Cluster struct {
	// Admin is the parsed kubeconfig.
	Admin *kubeconfig.Admin
	// Config is the REST configuration built from Admin; callers copy it
	// before changing it.
	Config *rest.Config
	// Clientset reads and writes the built-in kinds, decoded into
	// k8s.io/api's types. An answer with an error status is an error
	// matching apierrors.APIStatus (k8s.io/apimachinery/pkg/api/errors).
	Clientset kubernetes.Interface
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
	cfg.WarningHandler = warnings{w: o.Warnings}
	if o.MaxAnswer > 0 {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return boundedAnswers{rt: rt, max: o.MaxAnswer} })
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Cluster{Admin: admin, Config: cfg, Clientset: cs, Dynamic: dyn, Discovery: cached,
		Mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}, nil
}

// warnings writes the API server's warnings, escaped, to w (nil: nowhere).
type warnings struct{ w io.Writer }

// maxWarning bounds one warning as written.
const maxWarning = 512

func (h warnings) HandleWarningHeader(code int, agent, text string) {
	if h.w == nil || code != 299 || text == "" {
		return
	}
	line := termtext.Line(text)
	if len(line) > maxWarning {
		line = line[:maxWarning] + "..."
	}
	fmt.Fprintf(h.w, "warning from the API server: %s\n", line)
}

// boundedAnswers fails the read of an answer's body past max bytes.
type boundedAnswers struct {
	rt  http.RoundTripper
	max int64
}

func (b boundedAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, left: b.max + 1, max: b.max, what: req.Method + " " + req.URL.String()}
	return resp, nil
}

// boundedBody reads at most max+1 bytes of an answer; the last one is an
// error.
type boundedBody struct {
	io.ReadCloser
	left int64 // bytes that may still be read, one more than allowed
	max  int64
	what string
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, b.tooLarge()
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left <= 0 {
		return n, b.tooLarge()
	}
	return n, err
}

func (b *boundedBody) tooLarge() error {
	if b.max%(1<<20) == 0 {
		return fmt.Errorf("%s: the answer is larger than %d MiB", b.what, b.max>>20)
	}
	return fmt.Errorf("%s: the answer is larger than %d bytes", b.what, b.max)
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
