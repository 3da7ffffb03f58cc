package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Files the /system phase owns on every host.
const (
	SysctlFile  = "/etc/sysctl.d/90-appliance-kubernetes.conf"
	ModulesFile = "/etc/modules-load.d/appliance-kubernetes.conf"
	ChronyFile  = "/etc/chrony.conf"
)

// Markers around the block of /etc/hosts the deployment owns; lines outside
// it are kept as they are.
const (
	hostsBegin = "# BEGIN appliance: managed by deploy, do not edit"
	hostsEnd   = "# END appliance"
)

// kernelModules are loaded now and on every boot.
var kernelModules = []string{"overlay", "br_netfilter"}

// HostsEntries returns the lines of the managed /etc/hosts block: every
// host, the deploy node as SeedHostname, and the Harbor name at the registry
// host (when the site has one).
func HostsEntries(inv *inventory.Inventory) []string {
	var out []string
	for _, h := range inv.Hosts {
		out = append(out, h.Address+" "+h.Name)
	}
	out = append(out, inv.DeployNode.Address+" "+SeedHostname)
	if reg, ok := inv.Registry(); ok && inv.Harbor.Hostname != "" {
		out = append(out, reg.Address+" "+inv.Harbor.Hostname)
	}
	return out
}

// RenderHosts returns current (an /etc/hosts) with the managed block
// replaced by entries, or appended when there is none. Lines outside the
// block are kept; so rendering twice gives the same file.
func RenderHosts(current string, entries []string) string {
	var kept []string
	in := false
	for _, line := range strings.Split(strings.TrimRight(current, "\n"), "\n") {
		switch {
		case line == hostsBegin:
			in = true
		case line == hostsEnd && in:
			in = false
		case !in:
			kept = append(kept, line)
		}
	}
	for len(kept) > 0 && kept[len(kept)-1] == "" {
		kept = kept[:len(kept)-1]
	}
	block := append([]string{hostsBegin}, entries...)
	block = append(block, hostsEnd)
	if len(kept) > 0 {
		kept = append(kept, "")
	}
	return strings.Join(append(kept, block...), "\n") + "\n"
}

// RenderSysctl is the sysctl drop-in: bridged traffic through iptables and
// IP forwarding for Kubernetes, and, on masters, binding the apiserver VIP
// before keepalived moves it here (haproxy listens on it).
func RenderSysctl(master bool) string {
	s := "# Written by deploy: kernel settings Kubernetes needs.\n" +
		"net.bridge.bridge-nf-call-iptables = 1\n" +
		"net.bridge.bridge-nf-call-ip6tables = 1\n" +
		"net.ipv4.ip_forward = 1\n"
	if master {
		s += "net.ipv4.ip_nonlocal_bind = 1\n"
	}
	return s
}

// RenderChrony is /etc/chrony.conf pointing at the site's NTP servers only.
func RenderChrony(servers []string) string {
	var b strings.Builder
	b.WriteString("# Written by deploy: the site's time sources (inventory ntp).\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "server %s iburst\n", s)
	}
	b.WriteString("driftfile /var/lib/chrony/drift\nmakestep 1.0 3\nrtcsync\nlogdir /var/log/chrony\n")
	return b.String()
}

// system sets the host name, the managed /etc/hosts block, kernel modules
// and sysctls, swap off, SELinux permissive and chrony. Idempotent. See
// tolerate for what a test-site container may fail to do.
func (d *Deployment) system(ctx context.Context, h *remote) error {
	steps := []func(context.Context, *remote) error{d.hostname, d.etcHosts, d.kernel, d.swapOff, selinuxPermissive, d.chrony}
	for _, step := range steps {
		if err := step(ctx, h); err != nil {
			return err
		}
	}
	plan.Logf(ctx, "system settings applied")
	return nil
}

func (d *Deployment) hostname(ctx context.Context, h *remote) error {
	n := sshx.Quote(h.host.Name)
	return h.sh(ctx, fmt.Sprintf(`[ "$(hostname)" = %s ] && grep -qx %s /etc/hostname 2>/dev/null || `+
		`hostnamectl set-hostname %s 2>/dev/null || { printf '%%s\n' %s >/etc/hostname && hostname %s; }`, n, n, n, n, n))
}

func (d *Deployment) etcHosts(ctx context.Context, h *remote) error {
	cur, err := h.out(ctx, "cat /etc/hosts")
	if err != nil {
		return err
	}
	return h.put(ctx, "/etc/hosts", []byte(RenderHosts(cur, HostsEntries(d.inv))), 0o644)
}

func (d *Deployment) kernel(ctx context.Context, h *remote) error {
	mods := strings.Join(kernelModules, "\n") + "\n"
	if err := h.put(ctx, ModulesFile, []byte("# Written by deploy: modules Kubernetes needs.\n"+mods), 0o644); err != nil {
		return err
	}
	for _, m := range kernelModules {
		if err := d.tolerate(ctx, h, "modprobe "+sshx.Quote(m), "kernel module "+m+" could not be loaded"); err != nil {
			return err
		}
	}
	if err := h.put(ctx, SysctlFile, []byte(RenderSysctl(h.host.HasRole(inventory.RoleMaster))), 0o644); err != nil {
		return err
	}
	return d.tolerate(ctx, h, "sysctl -p "+sshx.Quote(SysctlFile), "some sysctls of "+SysctlFile+" could not be set")
}

func (d *Deployment) swapOff(ctx context.Context, h *remote) error {
	if err := d.tolerate(ctx, h, "swapoff -a", "swap could not be turned off"); err != nil {
		return err
	}
	return h.sh(ctx, `[ ! -f /etc/fstab ] || sed -ri '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/#appliance# /' /etc/fstab`)
}

func selinuxPermissive(ctx context.Context, h *remote) error {
	return h.sh(ctx, `if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" = Enforcing ]; then setenforce 0; fi; `+
		`[ ! -f /etc/selinux/config ] || sed -ri 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config`)
}

func (d *Deployment) chrony(ctx context.Context, h *remote) error {
	if len(d.inv.NTP) == 0 {
		plan.Logf(ctx, "the inventory names no NTP server; chrony left as it is")
		return nil
	}
	changed, err := h.install(ctx, ChronyFile, []byte(RenderChrony(d.inv.NTP)), 0o644, "")
	if err != nil {
		return err
	}
	// EL's unit is chronyd.service; on Debian (the test site) that is an
	// alias of chrony.service, which systemctl enable refuses: use the
	// unit's own name. systemd 219 (EL7) has no show --value (it came
	// with 230): its show prints "Id=<name>".
	out, err := h.out(ctx, "systemctl show -p Id chronyd.service")
	if err != nil {
		return err
	}
	svc := strings.TrimPrefix(out, "Id=")
	if svc == "" {
		svc = "chronyd.service"
	}
	return h.service(ctx, strings.TrimSuffix(svc, ".service"), changed)
}

// tolerate runs cmd. On a real host a failure is an error. On a test-site
// host (Config.TestSiteHosts), a container that cannot do this, it is
// logged as a WARNING in the console and the host log, so it is on record.
func (d *Deployment) tolerate(ctx context.Context, h *remote, cmd, what string) error {
	err := h.sh(ctx, cmd)
	switch {
	case err == nil || h.dry:
		return nil
	case d.cfg.TestSiteHosts && !errors.Is(err, sshx.ErrConnectionLost):
		warnf(ctx, "%s: %v (tolerated on a test-site container; a real host must do it)", what, err)
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
