package compat

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/kubeadm"
)

// Stack is what the stack rows read of a stack or a bundle: the version of
// each part, "" for a part it does not carry.
type Stack struct {
	Kubernetes string // the kube-apiserver image's tag, "v1.26.15"
	KubeSphere string // ks-installer's or ks-apiserver's tag, "v3.4.1"
	Calico     string // calico/node's tag, "v3.26.1"
	Containerd string // the containerd.io (or containerd) RPM's version, "1.6.33"
}

// FromArtifacts reads a Stack from image names (canonical,
// "docker.io/calico/node:v3.26.1", or as a manifest writes them) and RPMs
// (manifest specs "containerd.io-1.6.33", or NEVRAs
// "containerd.io-1.6.33-3.1.el7.x86_64").
func FromArtifacts(images, rpms []string) Stack {
	var s Stack
	for _, name := range images {
		reg, repo, tag := splitImage(name)
		switch {
		case tag == "":
			// pinned by digest only: no version to read
		case repo == "kube-apiserver" && (reg == "registry.k8s.io" || reg == "k8s.gcr.io"):
			s.Kubernetes = tag
		case repo == "kubesphere/ks-installer" || (repo == "kubesphere/ks-apiserver" && s.KubeSphere == ""):
			s.KubeSphere = tag
		case repo == "calico/node":
			s.Calico = tag
		}
	}
	for _, r := range rpms {
		for _, name := range []string{"containerd.io", "containerd"} {
			if v, ok := rpmVersion(r, name); ok {
				s.Containerd = v
			}
		}
	}
	return s
}

// splitImage splits an image name into registry ("" when it names none),
// repository and tag ("" when it has none).
func splitImage(name string) (registry, repo, tag string) {
	name, _, _ = strings.Cut(name, "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
	}
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		registry, name = first, rest
	}
	return registry, strings.TrimPrefix(name, "library/"), tag
}

// rpmVersion returns the version of package name in an RPM spec or NEVRA
// ("name-1.6.33", "name-1.6.33-3.1.el7.x86_64"), if r names that package
// with a version.
func rpmVersion(r, name string) (string, bool) {
	rest, ok := strings.CutPrefix(r, name+"-")
	if !ok || rest == "" || rest[0] < '0' || rest[0] > '9' {
		return "", false
	}
	v, _, _ := strings.Cut(rest, "-")
	return v, true
}

// partRow: releases of a part from..to (inclusive) support the Kubernetes
// minors kube.
type partRow struct {
	from, to string
	kube     minors
	source   string
}

// KubeSphere → Kubernetes.
var kubesphereRows = []partRow{
	// kubesphere/kubekey cmd/kk/pkg/version/kubesphere/ks_installer.go: KsV330–KsV332 K8sSupportVersions v1.19–v1.24.
	{from: "3.3.0", to: "3.3.99", kube: minors{19, 24}, source: "KubeKey ks_installer.go, KsV330–KsV332"},
	// Same file: KsV340 K8sSupportVersions v1.19–v1.26.
	{from: "3.4.0", to: "3.4.0", kube: minors{19, 26}, source: "KubeKey ks_installer.go, KsV340"},
	// Same file: KsV341 K8sSupportVersions v1.21–v1.26; kubesphere/kubesphere README's component table agrees.
	{from: "3.4.1", to: "3.4.99", kube: minors{21, 26}, source: "KubeKey ks_installer.go, KsV341"},
	// kubesphere/website content/en/docs/v4.1/03-installation-and-upgrade/01-preparations/01-supported-k8s.adoc.
	{from: "4.1.0", to: "4.1.2", kube: minors{21, 28}, source: "KubeSphere 4.1 docs, supported Kubernetes"},
	// Same page: 4.1.3 "tested" on v1.21–v1.30.
	{from: "4.1.3", to: "4.1.99", kube: minors{21, 30}, source: "KubeSphere 4.1 docs, supported Kubernetes (4.1.3)"},
}

// Calico → Kubernetes: the versions each Calico release is tested against.
var calicoRows = []partRow{
	// tigera/docs calico_versioned_docs/version-3.26/getting-started/kubernetes/requirements.mdx: v1.24–v1.28.
	{from: "3.26.0", to: "3.26.99", kube: minors{24, 28}, source: "Calico 3.26 system requirements"},
	// Same page of version-3.27: v1.24–v1.28.
	{from: "3.27.0", to: "3.27.99", kube: minors{24, 28}, source: "Calico 3.27 system requirements"},
	// Same page of version-3.28: v1.27–v1.30.
	{from: "3.28.0", to: "3.28.99", kube: minors{27, 30}, source: "Calico 3.28 system requirements"},
	// Same page of version-3.29: v1.29–v1.31.
	{from: "3.29.0", to: "3.29.99", kube: minors{29, 31}, source: "Calico 3.29 system requirements"},
	// Calico 3.31 is tested on v1.32–v1.35 (docs.tigera.io requirements page, as read by
	// projectcalico discussion #11717 and kupre v0.5.0's table); KubeKey's
	// builtin/core/roles/defaults/defaults/main/01-cluster_require.yaml pairs Kubernetes 1.34 with Calico 3.31.
	{from: "3.31.0", to: "3.31.99", kube: minors{32, 35}, source: "Calico 3.31 system requirements; KubeKey cluster_require"},
}

// containerdMinimum is, per Kubernetes minor, the oldest patch of each
// containerd minor recommended for it: containerd/containerd RELEASES.md,
// "Kubernetes Support" (and its deprecated table: 1.6.15+ and 1.7.0+ for
// 1.26+, where CRI v1alpha2 went away). The table stops at 1.33; 1.34 keeps
// 1.33's minimums (Kubernetes 1.35 is the last release to support
// containerd 1.x, KEP-4033's cgroup-driver negotiation).
var containerdMinimum = map[int][]string{
	26: {"1.6.15", "1.7.0"},
	27: {"1.6.15", "1.7.0"},
	28: {"1.6.15", "1.7.0"},
	29: {"1.6.27", "1.7.11"},
	30: {"1.6.28", "1.7.13", "2.0.0", "2.1.0"},
	31: {"1.6.34", "1.7.20", "2.0.0", "2.1.0"},
	32: {"1.6.36", "1.7.24", "2.0.1", "2.1.0"},
	33: {"1.6.36", "1.7.24", "2.0.4", "2.1.0"},
	34: {"1.6.36", "1.7.24", "2.0.4", "2.1.0"},
}

const containerdSource = "containerd RELEASES.md, Kubernetes Support"

// CheckStack returns every way s falls outside the stack rows. A stack
// without Kubernetes has nothing to check.
func CheckStack(s Stack) []Violation {
	if s.Kubernetes == "" {
		return nil
	}
	if _, err := kubeadm.ForVersion(s.Kubernetes); err != nil {
		return []Violation{{Row: RowKubernetesWindow, Problem: "Kubernetes " + s.Kubernetes,
			Rule: "deploy renders kubeadm configurations for " + kubeadm.WindowText() + " only",
			Fix:  "use a Kubernetes of " + kubeadm.WindowText() + " (the built-in stack ships v1.26.15)"}}
	}
	minor, _ := kubeMinor(s.Kubernetes)
	var vs []Violation
	if v, ok := checkPart(RowKubeSphereKubernetes, "KubeSphere", s.KubeSphere, kubesphereRows, s.Kubernetes, minor); !ok {
		vs = append(vs, v)
	}
	if v, ok := checkPart(RowCalicoKubernetes, "Calico", s.Calico, calicoRows, s.Kubernetes, minor); !ok {
		vs = append(vs, v)
	}
	if v, ok := checkContainerd(s.Containerd, s.Kubernetes, minor); !ok {
		vs = append(vs, v)
	}
	return vs
}

// checkPart checks one part's version against its rows.
func checkPart(row, part, version string, rows []partRow, kube string, minor int) (Violation, bool) {
	if version == "" {
		return Violation{}, true
	}
	v, ok := parseSemver(version)
	if !ok {
		return Violation{Row: row, Problem: fmt.Sprintf("%s %q with Kubernetes %s", part, version, kube),
			Rule: "the matrix knows versions of the form vX.Y.Z", Fix: "pin " + part + " by a version tag"}, false
	}
	var known []string
	for _, r := range rows {
		from, _ := parseSemver(r.from)
		to, _ := parseSemver(r.to)
		known = append(known, fmt.Sprintf("%s %s: Kubernetes %s", part, rangeText(r.from, r.to), r.kube))
		if v.cmp(from) < 0 || v.cmp(to) > 0 {
			continue
		}
		if r.kube.has(minor) {
			return Violation{}, true
		}
		return Violation{Row: row, Problem: fmt.Sprintf("%s %s with Kubernetes %s", part, version, kube),
			Rule: fmt.Sprintf("%s %s supports Kubernetes %s (%s)", part, rangeText(r.from, r.to), r.kube, r.source),
			Fix:  fmt.Sprintf("use Kubernetes %s with %s %s, or a %s release that supports Kubernetes v1.%d", r.kube, part, version, part, minor)}, false
	}
	return Violation{Row: row, Problem: fmt.Sprintf("%s %s with Kubernetes %s", part, version, kube),
		Rule: "no row for that release; the matrix has " + strings.Join(known, "; "),
		Fix:  "use a " + part + " release of the matrix, or add its row with its source to internal/compat"}, false
}

// rangeText is "3.4.1" or "3.4.x" or "4.1.0–4.1.2".
func rangeText(from, to string) string {
	switch {
	case from == to:
		return from
	case strings.HasSuffix(to, ".99") && strings.HasSuffix(from, ".0") && strings.TrimSuffix(to, ".99") == strings.TrimSuffix(from, ".0"):
		return strings.TrimSuffix(from, ".0") + ".x"
	case strings.HasSuffix(to, ".99"):
		return from + "+"
	}
	return from + "–" + to
}

func checkContainerd(version, kube string, minor int) (Violation, bool) {
	if version == "" {
		return Violation{}, true
	}
	mins := containerdMinimum[minor]
	bad := Violation{Row: RowContainerdKubernetes, Problem: fmt.Sprintf("containerd %s with Kubernetes %s", version, kube),
		Rule: fmt.Sprintf("Kubernetes v1.%d wants containerd %s (%s)", minor, strings.Join(plus(mins), " or "), containerdSource),
		Fix:  fmt.Sprintf("pin a containerd of %s", strings.Join(plus(mins), " or "))}
	v, ok := parseSemver(version)
	if !ok {
		return bad, false
	}
	for _, m := range mins {
		min, _ := parseSemver(m)
		if v.part(0) == min.part(0) && v.part(1) == min.part(1) && v.cmp(min) >= 0 {
			return Violation{}, true
		}
	}
	return bad, false
}

func plus(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v + "+"
	}
	return out
}
