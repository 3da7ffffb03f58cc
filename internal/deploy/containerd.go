package deploy

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
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

// sandboxImage is the pause image of the bundle's Kubernetes release (the
// one its kubeadm expects: a bundle may carry older pause tags for the
// runtime's defaults too); without Kubernetes, the bundle's first pause
// image, else DefaultSandboxImage.
func sandboxImage(idx *bundle.Index) string {
	if r, err := kubeadm.ForVersion(KubernetesVersion(idx)); err == nil {
		return r.SandboxImage()
	}
	for _, img := range idx.Images {
		if strings.HasPrefix(img.Name, kubeadm.ImageRepository+"/pause:") {
			return img.Name
		}
	}
	return DefaultSandboxImage
}

// upstream is the URL containerd would use for a registry without mirrors.
func upstream(registry string) string {
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
%s`, registry, mirror, upstream(registry), mirror, caPath, override)
}

// writeMirrors writes every source registry's hosts.toml: through the seed
// when harbor is "", else through that Harbor's project for the registry,
// and then the handover marker that keeps the node with Harbor when
// /containerd runs again.
func (d *Deployment) writeMirrors(ctx context.Context, h *remote, harbor string) error {
	for _, reg := range SourceRegistries(d.index) {
		mirror := d.seedURL()
		if harbor != "" {
			mirror = harbor + "/v2/" + reg
		}
		file := path.Join(ContainerdCertsDir, reg, "hosts.toml")
		if err := h.put(ctx, file, []byte(RenderHostsToml(reg, mirror, hostCA)), 0o644); err != nil {
			return err
		}
	}
	if harbor == "" {
		return nil
	}
	return h.put(ctx, harborHandover, []byte(harbor+"\n"), 0o644)
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

// canLowerOOMScore reports whether root on the host may lower a process's
// oom_score_adj (CAP_SYS_RESOURCE). A dry run assumes it may.
func canLowerOOMScore(ctx context.Context, h *remote) (bool, error) {
	out, err := h.out(ctx, `if (echo -1 >/proc/self/oom_score_adj) 2>/dev/null; then echo yes; else echo no; fi`)
	return out != "no", err
}

// containerd writes config.toml (checked by containerd itself) and one
// hosts.toml per source registry of the bundle, mirroring to the site server
// (the site registry until Harbor takes over), enables containerd,
// restarting it only when config.toml changed (hosts.toml files are read
// on every pull), and waits until it answers. Idempotent.
func (d *Deployment) containerd(ctx context.Context, h *remote) error {
	lower, err := canLowerOOMScore(ctx, h)
	if err != nil {
		return err
	}
	if !lower {
		warnf(ctx, "root may not lower oom_score_adj here (no CAP_SYS_RESOURCE): containerd restricts containers' oom_score_adj")
	}
	settings := ContainerdSettings{
		SandboxImage:        sandboxImage(d.index),
		SystemdCgroup:       d.inv.Kubernetes.CgroupDriver == inventory.CgroupSystemd,
		RestrictOOMScoreAdj: !lower,
	}
	changed, err := h.install(ctx, ContainerdConfig, []byte(RenderContainerdConfig(settings)), 0o644,
		"containerd --config %s config dump >/dev/null")
	if err != nil {
		return err
	}
	regs := SourceRegistries(d.index)
	// A node already handed over to Harbor (/harbor/mirrors) stays with it.
	harbored, err := handedOver(ctx, h, harborURL(d.inv.Harbor))
	if err != nil {
		return err
	}
	mirror, harbor := d.seedURL(), ""
	if harbored {
		mirror, harbor = harborURL(d.inv.Harbor), harborURL(d.inv.Harbor)
	}
	if err := d.writeMirrors(ctx, h, harbor); err != nil {
		return err
	}
	if err := h.service(ctx, "containerd", changed); err != nil {
		return err
	}
	if err := h.sh(ctx, "for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; ctr version"); err != nil {
		return fmt.Errorf("containerd does not answer after restart: %w", err)
	}
	plan.Logf(ctx, "containerd mirrors %d registr(ies) to %s: %s", len(regs), mirror, strings.Join(regs, " "))
	return nil
}
