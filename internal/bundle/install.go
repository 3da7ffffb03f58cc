package bundle

import (
	"fmt"

	"github.com/factory-appliance/appliance/internal/bundle/names"
)

// The install plan of bundle.json (Component.Releases and .Manifests) goes
// to the cluster: release names and namespaces become object names there,
// and release names and component names become deploy's phase IDs
// (/stack/<release>, /stack/<component>-manifests). checkInstall refuses,
// when the index is parsed:
//
//   - a component with an install plan whose name is not a DNS-1123 label;
//   - a release name that Helm would refuse: a DNS-1123 label of at most
//     names.MaxReleaseNameLen characters;
//   - a namespace that is not a DNS-1123 label;
//   - a release name listed twice in the bundle, or equal to another
//     component's "<component>-manifests" phase;
//   - a chart path that is not an artifact of KindChart, and a values or
//     manifest path that is not an artifact of KindConfig.

// ManifestsSuffix ends the name of a component's manifests step:
// "<component>-manifests".
const ManifestsSuffix = "-manifests"

// checkInstall checks the install plan (see above).
func (x *Index) checkInstall() error {
	kinds := make(map[string]string, len(x.Artifacts))
	for _, a := range x.Artifacts {
		kinds[a.Path] = a.Kind
	}
	steps := map[string]string{} // step name → what took it
	claim := func(name, what string) error {
		if prev, dup := steps[name]; dup {
			return fmt.Errorf("%s has the name %q of %s; every release and every component's manifests need their own name (deploy's phase /stack/%s)", what, name, prev, name)
		}
		steps[name] = what
		return nil
	}
	network := ""
	for _, c := range x.Components {
		if c.PodNetwork {
			where := "component " + names.Quote(c.Name, 80)
			if network != "" {
				return fmt.Errorf("%s and component %s are both marked as the pod network; a cluster has one CNI, rebuild the bundle with podNetwork on one of them", where, names.Quote(network, 80))
			}
			if !c.HasInstall() {
				return fmt.Errorf("%s is marked as the pod network but has no releases or manifests to install; rebuild the bundle with the CNI's manifests", where)
			}
			network = c.Name
		}
		if !c.HasInstall() {
			continue
		}
		where := "component " + names.Quote(c.Name, 80)
		if !names.ValidDNSLabel(c.Name) {
			return &names.NameError{Field: "component name", Value: c.Name, Want: names.DNSLabelChars, Why: names.ClusterWhy}
		}
		for i, r := range c.Releases {
			if err := r.check(where, i, kinds); err != nil {
				return err
			}
			if err := claim(r.Name, fmt.Sprintf("release %q of %s", r.Name, where)); err != nil {
				return err
			}
		}
		for i, m := range c.Manifests {
			if kinds[m] != KindConfig {
				return fmt.Errorf("%s: manifests[%d] %q is not a config entry of the bundle", where, i, m)
			}
		}
		if len(c.Manifests) > 0 {
			if err := claim(c.Name+ManifestsSuffix, "the manifests of "+where); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r Release) check(where string, i int, kinds map[string]string) error {
	field := fmt.Sprintf("releases[%d]", i)
	if !names.ValidReleaseName(r.Name) {
		return &names.NameError{Field: field + ".name", Value: r.Name, Where: where, Want: names.ReleaseNameChars, Why: names.ClusterWhy}
	}
	if !names.ValidNamespace(r.Namespace) {
		return &names.NameError{Field: field + ".namespace", Value: r.Namespace, Where: where, Want: names.DNSLabelChars, Why: names.ClusterWhy}
	}
	if kinds[r.Chart] != KindChart {
		return fmt.Errorf("%s: %s (%s) names chart %q, which is not a chart entry of the bundle", where, field, r.Name, r.Chart)
	}
	for j, v := range r.Values {
		if kinds[v] != KindConfig {
			return fmt.Errorf("%s: %s (%s) values[%d] %q is not a config entry of the bundle", where, field, r.Name, j, v)
		}
	}
	return nil
}
