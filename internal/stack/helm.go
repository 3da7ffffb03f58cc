package stack

import (
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
)

// helmConfig returns a Helm action configuration for releases in
// namespace, with Helm's default storage (Secrets in that namespace).
func (in *Installer) helmConfig(namespace string) (*action.Configuration, error) {
	cfg := new(action.Configuration)
	logf := func(format string, args ...any) {} // Helm's debug lines stay out of the phase log
	if err := cfg.Init(in.cluster.Getter(namespace), namespace, "secret", logf); err != nil {
		return nil, err
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Namespace = namespace
	}
	return cfg, nil
}
