package hostsetup

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// SandboxImage is the pause image of the bundle's Kubernetes release (the
// one its kubeadm expects: a bundle may carry older pause tags for the
// runtime's defaults too); without Kubernetes, the bundle's first pause
// image, else DefaultSandboxImage.
func SandboxImage(idx *bundle.Index) string {
	if r, err := kubeadm.ForVersion(kubeadm.KubernetesVersion(idx)); err == nil {
		return r.SandboxImage()
	}
	for _, img := range idx.Images {
		if strings.HasPrefix(img.Name, kubeadm.ImageRepository+"/pause:") {
			return img.Name
		}
	}
	return hostconf.DefaultSandboxImage
}

// WriteMirrors writes the hosts.toml of every source registry of the
// bundle idx: through the site server at seed when harbor is "", else
// through that Harbor's project for the registry, and then the handover
// marker that keeps the node with Harbor when /containerd runs again
// (HandedOver).
func WriteMirrors(ctx context.Context, h *remote.Host, idx *bundle.Index, seed, harbor string) error {
	for _, reg := range hostconf.SourceRegistries(idx) {
		mirror := seed
		if harbor != "" {
			mirror = harbor + "/v2/" + reg
		}
		file := path.Join(hostconf.ContainerdCertsDir, reg, "hosts.toml")
		if err := h.Put(ctx, file, []byte(hostconf.RenderHostsToml(reg, mirror, hostconf.HostCA)), 0o644); err != nil {
			return err
		}
	}
	if harbor == "" {
		return nil
	}
	return h.Put(ctx, handoverMarker, []byte(harbor+"\n"), 0o644)
}

// canLowerOOMScore reports whether root on the host may lower a process's
// oom_score_adj (CAP_SYS_RESOURCE). A dry run assumes it may.
func canLowerOOMScore(ctx context.Context, h *remote.Host) (bool, error) {
	out, err := h.Out(ctx, `if (echo -1 >/proc/self/oom_score_adj) 2>/dev/null; then echo yes; else echo no; fi`)
	return out != "no", err
}

// Containerd writes config.toml (checked by containerd itself) and one
// hosts.toml per source registry of the bundle, mirroring to the site server
// (the site registry until Harbor takes over), enables containerd,
// restarting it only when config.toml changed (hosts.toml files are read
// on every pull), and waits until it answers. Idempotent.
func (s *Site) Containerd(ctx context.Context, h *remote.Host) error {
	lower, err := canLowerOOMScore(ctx, h)
	if err != nil {
		return err
	}
	if !lower {
		remote.Warnf(ctx, "root may not lower oom_score_adj here (no CAP_SYS_RESOURCE): containerd restricts containers' oom_score_adj")
	}
	settings := hostconf.ContainerdSettings{
		SandboxImage:        SandboxImage(s.Index),
		SystemdCgroup:       s.Inventory.Kubernetes.CgroupDriver == inventory.CgroupSystemd,
		RestrictOOMScoreAdj: !lower,
	}
	changed, err := h.Install(ctx, hostconf.ContainerdConfig, []byte(hostconf.RenderContainerdConfig(settings)), 0o644,
		"containerd --config %s config dump >/dev/null")
	if err != nil {
		return err
	}
	regs := hostconf.SourceRegistries(s.Index)
	// A node already handed over to Harbor (/harbor/mirrors) stays with it.
	harbored, err := HandedOver(ctx, h, s.HarborURL)
	if err != nil {
		return err
	}
	mirror, harbor := s.SeedURL, ""
	if harbored {
		mirror, harbor = s.HarborURL, s.HarborURL
	}
	if err := WriteMirrors(ctx, h, s.Index, s.SeedURL, harbor); err != nil {
		return err
	}
	if err := h.Service(ctx, "containerd", changed); err != nil {
		return err
	}
	if err := h.Sh(ctx, "for i in $(seq 1 30); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; ctr version"); err != nil {
		return fmt.Errorf("containerd does not answer after restart: %w", err)
	}
	plan.Logf(ctx, "containerd mirrors %d registr(ies) to %s: %s", len(regs), mirror, strings.Join(regs, " "))
	return nil
}

// HandedOver reports whether the node's containerd was handed over to the
// Harbor at url (the marker WriteMirrors leaves for a Harbor).
func HandedOver(ctx context.Context, h *remote.Host, url string) (bool, error) {
	out, err := h.Out(ctx, "cat "+handoverMarker+" 2>/dev/null || true")
	return out == url && url != "", err
}

// handoverMarker records, on a node, the Harbor its containerd was handed
// over to (WriteMirrors, HandedOver).
const handoverMarker = hostconf.ContainerdCertsDir + "/.appliance-harbor"
