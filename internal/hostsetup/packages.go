package hostsetup

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// PackagesAnnotation prefixes the bundle index annotations that name the
// packages of a role: "appliance.packages/master": "kubeadm kubelet ...".
const PackagesAnnotation = bundle.AnnotationPackagesPrefix

// DefaultRolePackages is the package list of each role when the bundle
// names none (see RolePackages).
var DefaultRolePackages = map[inventory.Role][]string{
	inventory.RoleMaster: {"containerd.io", "cri-tools", "kubeadm", "kubelet", "kubectl", "kubernetes-cni",
		"socat", "conntrack-tools", "ebtables", "ipset", "ipvsadm", "chrony", "keepalived", "haproxy"},
	inventory.RoleWorker: {"containerd.io", "cri-tools", "kubeadm", "kubelet", "kubernetes-cni",
		"socat", "conntrack-tools", "ebtables", "ipset", "ipvsadm", "chrony"},
	inventory.RoleRegistry: {"docker-ce", "docker-ce-cli", "docker-compose-plugin", "containerd.io", "chrony"},
}

// RolePackages returns the packages a host with roles gets, sorted and
// without repeats. When the index has any "appliance.packages/<role>"
// annotation, the annotations decide (a role without one gets nothing);
// otherwise DefaultRolePackages does. Every package must be in the bundle's
// repos; a missing one is an error naming it, its role and the fix.
func RolePackages(idx *bundle.Index, roles []inventory.Role) ([]string, error) {
	lists := map[inventory.Role][]string{}
	annotated := false
	for k, v := range idx.Annotations {
		if role, ok := strings.CutPrefix(k, PackagesAnnotation); ok {
			lists[inventory.Role(role)] = strings.Fields(v)
			annotated = true
		}
	}
	if !annotated {
		lists = DefaultRolePackages
	}
	have := BundlePackages(idx)
	seen := map[string]bool{}
	var out, missing []string
	for _, role := range roles {
		for _, p := range lists[role] {
			switch {
			case seen[p]:
			case !have[p]:
				missing = append(missing, fmt.Sprintf("%s (role %s)", p, role))
			default:
				out = append(out, p)
			}
			seen[p] = true
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bundle %s %s lacks package(s) %s; add them to a component's rpms in the stack and rebuild the bundle",
			idx.Name, idx.Version, strings.Join(missing, ", "))
	}
	sort.Strings(out)
	return out, nil
}

// BundlePackages is the set of package names in the bundle's repos, read
// from the RPM file names (NAME-VERSION-RELEASE.ARCH.rpm).
func BundlePackages(idx *bundle.Index) map[string]bool {
	out := map[string]bool{}
	for _, a := range idx.Artifacts {
		if !strings.HasPrefix(a.Path, "repos/") || !strings.HasSuffix(a.Path, ".rpm") {
			continue
		}
		if n := RPMName(path.Base(a.Path)); n != "" {
			out[n] = true
		}
	}
	return out
}

// RPMName returns NAME from a file name NAME-VERSION-RELEASE.ARCH.rpm, or ""
// when the name has no version and release.
func RPMName(file string) string {
	s := strings.TrimSuffix(file, ".rpm")
	for range 2 {
		i := strings.LastIndexByte(s, '-')
		if i <= 0 {
			return ""
		}
		s = s[:i]
	}
	return s
}

// Packages installs the host's packages from the bundle's repos only, then
// checks with rpm that every one is installed. Idempotent: yum installs
// only what is missing.
func (s *Site) Packages(ctx context.Context, h *remote.Host) error {
	pkgs, err := RolePackages(s.Index, h.Host.Roles)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		plan.Logf(ctx, "no packages for roles %v", h.Host.Roles)
		return nil
	}
	if err := h.Sh(ctx, "yum -y "+hostconf.YumOnly+" install "+quoteAll(pkgs)); err != nil {
		return fmt.Errorf("installing %s from the bundle's repos: %w", strings.Join(pkgs, " "), err)
	}
	if err := h.Sh(ctx, "rpm -q "+quoteAll(pkgs)); err != nil {
		return fmt.Errorf("after yum install, rpm does not list every package: %w", err)
	}
	plan.Logf(ctx, "installed %d package(s): %s", len(pkgs), strings.Join(pkgs, " "))
	return nil
}

// quoteAll quotes each of words for the shell (they come from bundle.json)
// and joins them with spaces.
func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = sshx.Quote(w)
	}
	return strings.Join(q, " ")
}

// PackageVersion returns name-VERSION-RELEASE of the bundle's package name
// at version (the RPM's VERSION, such as "1.26.15"), for an install that
// must take exactly that one (an upgrade of kubeadm, kubelet and kubectl);
// an error names the bundle and what it has.
func PackageVersion(idx *bundle.Index, name, version string) (string, error) {
	var have []string
	for _, a := range idx.Artifacts {
		if !strings.HasPrefix(a.Path, "repos/") || !strings.HasSuffix(a.Path, ".rpm") {
			continue
		}
		file := path.Base(a.Path)
		if RPMName(file) != name {
			continue
		}
		nvr := strings.TrimSuffix(file, ".rpm")
		nvr = nvr[:strings.LastIndexByte(nvr, '.')] // the architecture
		have = append(have, nvr)
		if strings.HasPrefix(nvr, name+"-"+version+"-") {
			return nvr, nil
		}
	}
	if len(have) == 0 {
		return "", fmt.Errorf("bundle %s %s has no package %s; add it to a component's rpms in the stack and rebuild the bundle", idx.Name, idx.Version, name)
	}
	return "", fmt.Errorf("bundle %s %s has %s, not %s at %s: its packages and its Kubernetes images must be of one version", idx.Name, idx.Version, strings.Join(have, ", "), name, version)
}
