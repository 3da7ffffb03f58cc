package hostconf

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// Paths of containerd's configuration on a host.
const (
	ContainerdConfig   = "/etc/containerd/config.toml"
	ContainerdCertsDir = "/etc/containerd/certs.d"
)

// DefaultSandboxImage is the pause image containerd's CRI uses when the
// bundle carries no Kubernetes and no registry.k8s.io/pause image.
const DefaultSandboxImage = "registry.k8s.io/pause:3.9"

// SourceRegistries returns the registries the bundle's images come from
// (the first part of each canonical name: "docker.io", "quay.io",
// "registry.factory.example"), sorted.
func SourceRegistries(idx *bundle.Index) []string {
	set := map[string]bool{}
	for _, img := range idx.Images {
		if reg, _, ok := strings.Cut(img.Name, "/"); ok && reg != "" {
			set[reg] = true
		}
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Upstream is the URL containerd would use for a registry without mirrors.
func Upstream(registry string) string {
	if registry == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return "https://" + registry
}

// RenderHostsToml is certs.d/<registry>/hosts.toml: pulls of registry's
// images go to mirror, trusting only the CA file caPath. The original
// registry stays the server of record, so image names and digests are
// unchanged; an offline site never reaches it. mirror is the seed
// (https://HOST[:PORT], which serves every registry's images) or, once
// Harbor has taken over, the Harbor project named after registry
// (https://HARBOR/v2/<registry>): a mirror with a path is its API root
// (override_path).
func RenderHostsToml(registry, mirror, caPath string) string {
	override := ""
	if u, err := url.Parse(mirror); err == nil && strings.Trim(u.Path, "/") != "" {
		override = "  override_path = true\n"
	}
	return fmt.Sprintf(`# Written by deploy: %s is pulled through %s.
server = %q

[host.%q]
  capabilities = ["pull", "resolve"]
  ca = %q
%s`, registry, mirror, Upstream(registry), mirror, caPath, override)
}

// ContainerdSettings is what config.toml is rendered from.
type ContainerdSettings struct {
	// SandboxImage is the pause image of every pod.
	SandboxImage string
	// SystemdCgroup makes runc use the systemd cgroup driver; it must match
	// kubelet's cgroupDriver (inventory kubernetes.cgroupDriver).
	SystemdCgroup bool
	// RestrictOOMScoreAdj keeps containers' oom_score_adj no lower than
	// containerd's own: for hosts where root may not lower it (no
	// CAP_SYS_RESOURCE, as in a container), found by the /containerd phase.
	RestrictOOMScoreAdj bool
}

// RenderContainerdConfig is config.toml (version 2): the CRI plugin with
// runc and the cgroup driver, the sandbox image, and registry hosts read
// from ContainerdCertsDir.
func RenderContainerdConfig(s ContainerdSettings) string {
	return fmt.Sprintf(`# Written by deploy.
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = %t

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = %t

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %q
`, s.SandboxImage, s.RestrictOOMScoreAdj, s.SystemdCgroup, ContainerdCertsDir)
}
