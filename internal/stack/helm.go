package stack

import (
	"bytes"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
)

// helmGetter hands the Helm SDK the installer's configuration, discovery
// and RESTMapper, with namespace as the kubeconfig's namespace. Unlike
// genericclioptions.ConfigFlags it keeps discovery in memory, so deploy
// writes no cache under $HOME.
type helmGetter struct {
	in        *Installer
	namespace string
}

var _ genericclioptions.RESTClientGetter = helmGetter{}

func (g helmGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.in.config), nil }

func (g helmGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.in.discovery, nil
}

func (g helmGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.in.restMapper(), nil }

// ToRawKubeConfigLoader is the installer's kubeconfig, built in memory from
// its parsed fields (the client certificate inline, nothing else), so that
// no loader reads the file again.
func (g helmGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	a := g.in.admin
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[a.Cluster] = &clientcmdapi.Cluster{Server: a.Server, CertificateAuthorityData: bytes.Clone(a.CAData)}
	cfg.AuthInfos[a.User] = &clientcmdapi.AuthInfo{ClientCertificateData: bytes.Clone(a.CertData), ClientKeyData: bytes.Clone(a.KeyData)}
	cfg.Contexts[a.Context] = &clientcmdapi.Context{Cluster: a.Cluster, AuthInfo: a.User}
	cfg.CurrentContext = a.Context
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// helmConfig returns a Helm action configuration for releases in
// namespace, with Helm's default storage (Secrets in that namespace).
func (in *Installer) helmConfig(namespace string) (*action.Configuration, error) {
	cfg := new(action.Configuration)
	logf := func(format string, args ...any) {} // Helm's debug lines stay out of the phase log
	if err := cfg.Init(helmGetter{in: in, namespace: namespace}, namespace, "secret", logf); err != nil {
		return nil, err
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Namespace = namespace
	}
	return cfg, nil
}
