package hostsetup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// System sets the host name, the managed /etc/hosts block, kernel modules
// and sysctls, swap off, SELinux permissive and chrony. Idempotent. See
// tolerate for what a test-site container may fail to do.
func (s *Site) System(ctx context.Context, h *remote.Host) error {
	steps := []func(context.Context, *remote.Host) error{s.hostname, s.etcHosts, s.kernel, s.swapOff, selinuxPermissive, s.chrony}
	for _, step := range steps {
		if err := step(ctx, h); err != nil {
			return err
		}
	}
	plan.Logf(ctx, "system settings applied")
	return nil
}

func (s *Site) hostname(ctx context.Context, h *remote.Host) error {
	n := sshx.Quote(h.Host.Name)
	return h.Sh(ctx, fmt.Sprintf(`[ "$(hostname)" = %s ] && grep -qx %s /etc/hostname 2>/dev/null || `+
		`hostnamectl set-hostname %s 2>/dev/null || { printf '%%s\n' %s >/etc/hostname && hostname %s; }`, n, n, n, n, n))
}

func (s *Site) etcHosts(ctx context.Context, h *remote.Host) error {
	cur, err := h.Out(ctx, "cat /etc/hosts")
	if err != nil {
		return err
	}
	return h.Put(ctx, "/etc/hosts", []byte(hostconf.RenderHosts(cur, hostconf.HostsEntries(s.Inventory))), 0o644)
}

func (s *Site) kernel(ctx context.Context, h *remote.Host) error {
	if err := h.Put(ctx, hostconf.ModulesFile, []byte(hostconf.RenderModules()), 0o644); err != nil {
		return err
	}
	for _, m := range hostconf.KernelModules {
		if err := s.tolerate(ctx, h, "modprobe "+sshx.Quote(m), "kernel module "+m+" could not be loaded"); err != nil {
			return err
		}
	}
	if err := h.Put(ctx, hostconf.SysctlFile, []byte(hostconf.RenderSysctl(h.Host.HasRole(inventory.RoleMaster))), 0o644); err != nil {
		return err
	}
	return s.tolerate(ctx, h, "sysctl -p "+sshx.Quote(hostconf.SysctlFile), "some sysctls of "+hostconf.SysctlFile+" could not be set")
}

func (s *Site) swapOff(ctx context.Context, h *remote.Host) error {
	if err := s.tolerate(ctx, h, "swapoff -a", "swap could not be turned off"); err != nil {
		return err
	}
	return h.Sh(ctx, `[ ! -f /etc/fstab ] || sed -ri '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/#appliance# /' /etc/fstab`)
}

func selinuxPermissive(ctx context.Context, h *remote.Host) error {
	return h.Sh(ctx, `if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" = Enforcing ]; then setenforce 0; fi; `+
		`[ ! -f /etc/selinux/config ] || sed -ri 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config`)
}

func (s *Site) chrony(ctx context.Context, h *remote.Host) error {
	if len(s.Inventory.NTP) == 0 {
		plan.Logf(ctx, "the inventory names no NTP server; chrony left as it is")
		return nil
	}
	changed, err := h.Install(ctx, hostconf.ChronyFile, []byte(hostconf.RenderChrony(s.Inventory.NTP)), 0o644, "")
	if err != nil {
		return err
	}
	// EL's unit is chronyd.service; on Debian (the test site) that is an
	// alias of chrony.service, which systemctl enable refuses: use the
	// unit's own name. systemd 219 (EL7) has no show --value (it came
	// with 230): its show prints "Id=<name>".
	out, err := h.Out(ctx, "systemctl show -p Id chronyd.service")
	if err != nil {
		return err
	}
	svc := strings.TrimPrefix(out, "Id=")
	if svc == "" {
		svc = "chronyd.service"
	}
	return h.Service(ctx, strings.TrimSuffix(svc, ".service"), changed)
}

// tolerate runs cmd. On a real host a failure is an error. On a test-site
// host (Site.TestSiteHosts), a container that cannot do this, it is
// logged as a WARNING in the console and the host log, so it is on record.
func (s *Site) tolerate(ctx context.Context, h *remote.Host, cmd, what string) error {
	err := h.Sh(ctx, cmd)
	switch {
	case err == nil || h.Dry:
		return nil
	case s.TestSiteHosts && !errors.Is(err, sshx.ErrConnectionLost):
		remote.Warnf(ctx, "%s: %v (tolerated on a test-site container; a real host must do it)", what, err)
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
