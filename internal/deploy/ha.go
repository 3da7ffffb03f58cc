package deploy

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// haSettings returns the HA settings of master h, with the site's VRRP
// password (vrrpSecret).
func (d *Deployment) haSettings(h inventory.Host, dry bool) (hostconf.HA, error) {
	pass, err := d.vrrpSecret(dry)
	if err != nil {
		return hostconf.HA{}, err
	}
	iface := d.inv.APIServer.Interface
	if iface == "" {
		iface = hostconf.DefaultVRRPInterface
	}
	return hostconf.HA{Site: d.inv.Site, VIP: d.inv.APIServer.VIP, Port: d.inv.APIServer.Port,
		Interface: iface, Self: h, Masters: d.masters, AuthPass: pass}, nil
}

// vrrpSecret returns the site's VRRP password, registered with the
// redactor: the first line of the state directory's VRRPPasswordFile, made
// (8 random characters of A-Z and 2-7) on first use. A password found there
// must be 1 to 8 letters or digits, which keepalived takes as one word.
func (d *Deployment) vrrpSecret(dry bool) (string, error) {
	pass, err := d.secret(state.VRRPPasswordFile, func() (string, error) {
		return rand.Text()[:hostconf.VRRPPassLen], nil
	}, dry)
	if err != nil {
		return "", err
	}
	if !dry || pass[0] != '<' {
		if err := hostconf.CheckVRRPPass(pass); err != nil {
			return "", fmt.Errorf("%s: %w", d.state.Path(state.VRRPPasswordFile), err)
		}
	}
	d.red.Add(pass)
	return pass, nil
}

// ha installs the haproxy and keepalived configurations, each validated by
// the program itself (haproxy -c, keepalived --config-test) before it
// replaces the file in place, then enables both services, restarting each
// only if its configuration changed (so a re-run does not move the VIP).
// keepalived gained --config-test in 2.0: EL7's 1.3.5 lacks it (and exits
// 0 on an option it does not know), so the host is asked first, and an
// older keepalived's configuration is checked by its start alone.
// Idempotent.
func (d *Deployment) ha(ctx context.Context, h *remote.Host) error {
	const keepalivedTest = "if keepalived --help 2>&1 | grep -q -e --config-test; then keepalived --config-test -f %[1]s; " +
		"else echo 'this keepalived (before 2.0) has no --config-test: %[1]s is checked by its start' >&2; fi"
	a, err := d.haSettings(h.Host, h.Dry)
	if err != nil {
		return err
	}
	units := []struct {
		service, path, text, test string
		mode                      os.FileMode
	}{
		{"haproxy", hostconf.HAProxyConfig, hostconf.RenderHAProxy(a), "haproxy -c -q -f %s", 0o644},
		{"keepalived", hostconf.KeepalivedConfig, hostconf.RenderKeepalived(a), keepalivedTest, 0o600},
	}
	for _, u := range units {
		changed, err := h.Install(ctx, u.path, []byte(u.text), u.mode, u.test)
		if err != nil {
			return err
		}
		if err := h.Service(ctx, u.service, changed); err != nil {
			return err
		}
	}
	if a.Authentication() == "" {
		remote.Warnf(ctx, "the VIP %s is IPv6: VRRPv3 has no authentication, so keepalived takes adverts by source address only (the other masters')", a.VIP)
	}
	plan.Logf(ctx, "haproxy on %s:%d and keepalived (VRRP id %d, priority %d) running", a.VIP, a.Port, a.RouterID(), a.Priority())
	return nil
}
