package stack

import (
	"fmt"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// Title names what the step installs: "Helm release nfs: chart
// nfs-subdir-external-provisioner 4.0.18 in namespace storage".
func (s Step) Title(b Bundle) string {
	if r := s.Release; r != nil {
		name, version := chartOf(b, r.Chart)
		return fmt.Sprintf("Helm release %s: chart %s %s in namespace %s", r.Name, name, version, r.Namespace)
	}
	return fmt.Sprintf("Apply the manifests of component %s (%d file(s))", s.Component, len(s.Manifests))
}

// chartOf reads a chart entry of b's name and version from bundle.json.
func chartOf(b Bundle, path string) (name, version string) {
	a, ok := b.Lookup(path)
	if !ok {
		return path, "(not in the bundle)"
	}
	return a.Name, a.Annotations[bundle.AnnotationChartVersion]
}

// DryRun is what the step would do, as the equivalent helm and kubectl
// commands (deploy runs them through the Helm SDK and client-go, on the
// deploy node) with the admin kubeconfig at path kc, each waiting up to
// timeout.
func (s Step) DryRun(kc string, timeout time.Duration) []string {
	wait := fmt.Sprintf("wait up to %s for its Deployments, StatefulSets and DaemonSets to roll out and its Jobs to complete", timeout)
	if r := s.Release; r != nil {
		values := ""
		for _, v := range r.Values {
			values += " -f " + v
		}
		return []string{
			fmt.Sprintf("helm upgrade --install %s %s --namespace %s --create-namespace%s --kubeconfig %s (Helm SDK, from the bundle; no change when the deployed revision has the same chart and values)",
				r.Name, r.Chart, r.Namespace, values, kc),
			wait,
		}
	}
	return []string{
		fmt.Sprintf("kubectl apply --server-side --field-manager %s --force-conflicts --kubeconfig %s -f %s (client-go, from the bundle; CustomResourceDefinitions first, until Established, then Namespaces, then the rest in file order)",
			FieldManager, kc, strings.Join(s.Manifests, " -f ")),
		wait,
	}
}
