package bundle

import (
	"fmt"
	"regexp"
)

// The install plan of bundle.json (Component.Releases and .Manifests) goes
// to the cluster: release names and namespaces become object names there,
// and release names and component names become deploy's phase IDs
// (/stack/<release>, /stack/<component>-manifests). checkInstall refuses,
// when the index is parsed:
//
//   - a component with an install plan whose name is not a DNS-1123 label;
//   - a release name that Helm would refuse: a DNS-1123 label of at most
//     MaxReleaseNameLen characters;
//   - a namespace that is not a DNS-1123 label;
//   - a release name listed twice in the bundle, or equal to another
//     component's "<component>-manifests" phase;
//   - a chart path that is not an artifact of KindChart, and a values or
//     manifest path that is not an artifact of KindConfig.

// MaxReleaseNameLen is Helm's limit on a release name.
const MaxReleaseNameLen = 53

// ManifestsSuffix ends the name of a component's manifests step:
// "<component>-manifests".
const ManifestsSuffix = "-manifests"

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidReleaseName reports whether Helm accepts s as a release name, and
// the cluster as a label value and object name prefix.
func ValidReleaseName(s string) bool { return len(s) <= MaxReleaseNameLen && dnsLabelRE.MatchString(s) }

// ValidNamespace reports whether s is a valid namespace name.
func ValidNamespace(s string) bool { return dnsLabelRE.MatchString(s) }

const (
	dnsLabelWant    = "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63"
	releaseNameWant = "a DNS-1123 label of at most 53 characters (Helm's limit): lower-case letters, digits and '-', starting and ending with a letter or digit"
	clusterWhy      = "deploy hands it to the cluster"
)

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
			where := "component " + truncQuote(c.Name, 80)
			if network != "" {
				return fmt.Errorf("%s and component %s are both marked as the pod network; a cluster has one CNI, rebuild the bundle with podNetwork on one of them", where, truncQuote(network, 80))
			}
			if !c.HasInstall() {
				return fmt.Errorf("%s is marked as the pod network but has no releases or manifests to install; rebuild the bundle with the CNI's manifests", where)
			}
			network = c.Name
		}
		if !c.HasInstall() {
			continue
		}
		where := "component " + truncQuote(c.Name, 80)
		if !dnsLabelRE.MatchString(c.Name) {
			return &NameError{Field: "component name", Value: c.Name, Want: dnsLabelWant, Why: clusterWhy}
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
	if !ValidReleaseName(r.Name) {
		return &NameError{Field: field + ".name", Value: r.Name, Where: where, Want: releaseNameWant, Why: clusterWhy}
	}
	if !ValidNamespace(r.Namespace) {
		return &NameError{Field: field + ".namespace", Value: r.Namespace, Where: where, Want: dnsLabelWant, Why: clusterWhy}
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
