package hostsetup

import (
	"context"
	"os"

	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// HA installs the haproxy and keepalived configurations, each validated by
// the program itself (haproxy -c, keepalived --config-test) before it
// replaces the file in place, then enables both services, restarting each
// only if its configuration changed (so a re-run does not move the VIP).
// keepalived gained --config-test in 2.0: EL7's 1.3.5 lacks it (and exits
// 0 on an option it does not know), so the host is asked first, and an
// older keepalived's configuration is checked by its start alone.
// Idempotent.
func (s *Site) HA(ctx context.Context, h *remote.Host) error {
	const keepalivedTest = "if keepalived --help 2>&1 | grep -q -e --config-test; then keepalived --config-test -f %[1]s; " +
		"else echo 'this keepalived (before 2.0) has no --config-test: %[1]s is checked by its start' >&2; fi"
	a, err := s.HASettings(h.Host, h.Dry)
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
