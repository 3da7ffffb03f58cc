package inventory

import (
	"errors"
	"strings"
	"testing"
)

// TestAddressZonesRefused: an IPv6 address with a %zone is refused
// wherever the inventory takes an address. netip.ParseAddr accepts any
// text as the zone, newlines and shell metacharacters included, and these
// addresses go into /etc/hosts, chrony.conf, keepalived.conf, haproxy.cfg
// and the yum repo file on every host, where a zone (one machine's
// interface) means nothing anyway.
func TestAddressZonesRefused(t *testing.T) {
	// A zone holding a control character, such as "%eth0\ngpgcheck=0", is
	// refused for that first (TestControlCharactersRefused).
	const zoned = `"fe80::1%eth0;gpgcheck=0"`
	for _, c := range []struct{ old, new, field string }{
		{"    address: 10.0.0.11\n", "    address: " + zoned + "\n", "hosts[0].address"},
		{"  address: 10.0.0.5\n", "  address: " + zoned + "\n", "deployNode.address"},
		{"  vip: 10.0.0.10\n", "  vip: " + zoned + "\n", "apiserver.vip"},
		{"ntp: [10.0.0.1]\n", "ntp: [" + zoned + "]\n", "ntp[0]"},
		{"    server: 10.0.0.40\n", "    server: " + zoned + "\n", "storage.nfs.server"},
		{`monitors: ["10.0.0.50:6789"]`, `monitors: ["[fe80::1%$(reboot)]:6789"]`, "storage.ceph.monitors[0]"},
		{"  port: 22\n", "  port: 22\n  jumpHost: {address: \"fe80::1%eth0;id\"}\n", "ssh.jumpHost.address"},
	} {
		t.Run(c.field, func(t *testing.T) {
			_, err := parse(t, edit(base, c.old, c.new, 1))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("accepted: %v", err)
			}
			for _, p := range ve.Problems {
				if p.Field == c.field {
					if !strings.Contains(p.Fix, "zone") {
						t.Errorf("the fix %q does not mention the zone", p.Fix)
					}
					return
				}
			}
			t.Errorf("no problem on %s: %v", c.field, err)
		})
	}
}
