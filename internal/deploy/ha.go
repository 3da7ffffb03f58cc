package deploy

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
)

// Paths of the HA configuration on a master.
const (
	KeepalivedConfig = "/etc/keepalived/keepalived.conf"
	HAProxyConfig    = "/etc/haproxy/haproxy.cfg"
)

// DefaultVRRPInterface is the interface keepalived holds the VIP on when the
// inventory names none.
const DefaultVRRPInterface = "eth0"

// HA is what the keepalived and haproxy configurations are rendered from.
type HA struct {
	Site      string
	VIP       string
	Port      int // the VIP's port (apiserver.port)
	Interface string
	Self      inventory.Host
	Masters   []inventory.Host // every master, in inventory order
}

// haFor returns the HA settings of master h.
func (d *Deployment) haFor(h inventory.Host) HA {
	iface := d.inv.APIServer.Interface
	if iface == "" {
		iface = DefaultVRRPInterface
	}
	return HA{Site: d.inv.Site, VIP: d.inv.APIServer.VIP, Port: d.inv.APIServer.Port,
		Interface: iface, Self: h, Masters: d.masters}
}

// RouterID is the VRRP virtual router id of a site: derived from the site
// name and the VIP, so two sites on one segment rarely collide (1..255).
func (a HA) RouterID() int {
	f := fnv.New32a()
	f.Write([]byte(a.Site + "/" + a.VIP))
	return int(f.Sum32()%255) + 1
}

// priority is the master's VRRP priority: the first master listed holds the
// VIP while it is healthy.
func (a HA) priority() int {
	for i, m := range a.Masters {
		if m.Name == a.Self.Name {
			return 150 - 10*i
		}
	}
	return 100
}

// RenderKeepalived is keepalived.conf: every master is a BACKUP (no
// preemption storms) with its own priority, VRRP by unicast between the
// masters (factory switches often drop multicast), and the VIP follows a
// running haproxy.
func RenderKeepalived(a HA) string {
	var peers strings.Builder
	for _, m := range a.Masters {
		if m.Name != a.Self.Name {
			fmt.Fprintf(&peers, "    %s\n", m.Address)
		}
	}
	return fmt.Sprintf(`# Written by deploy: keepalived holds the apiserver VIP %[1]s on a master with haproxy running.
global_defs {
  router_id %[2]s
  enable_script_security
  script_user root
}

vrrp_script chk_haproxy {
  script "/usr/bin/pgrep -x haproxy"
  interval 2
  fall 2
  rise 2
}

vrrp_instance apiserver {
  state BACKUP
  interface %[3]s
  virtual_router_id %[4]d
  priority %[5]d
  advert_int 1
  unicast_src_ip %[6]s
  unicast_peer {
%[7]s  }
  virtual_ipaddress {
    %[1]s/32 dev %[3]s
  }
  track_script {
    chk_haproxy
  }
}
`, a.VIP, a.Self.Name, a.Interface, a.RouterID(), a.priority(), a.Self.Address, peers.String())
}

// RenderHAProxy is haproxy.cfg: TCP on VIP:port to every master's apiserver
// on the same port at the master's own address. So the apiserver must bind
// its node address (kubeadm's advertise/bind address), not 0.0.0.0, and
// /system sets net.ipv4.ip_nonlocal_bind on masters so haproxy can listen
// on the VIP while another master holds it.
func RenderHAProxy(a HA) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by deploy: the apiserver VIP %s:%d, balanced over the masters.
global
  log /dev/log local0
  maxconn 4000
  stats socket /run/haproxy-admin.sock mode 600 level admin

defaults
  log global
  mode tcp
  option tcplog
  option dontlognull
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend apiserver
  bind %s:%d
  default_backend apiserver

backend apiserver
  balance roundrobin
  option tcp-check
  default-server inter 3s fall 3 rise 2
`, a.VIP, a.Port, a.VIP, a.Port)
	for _, m := range a.Masters {
		fmt.Fprintf(&b, "  server %s %s:%d check\n", m.Name, m.Address, a.Port)
	}
	return b.String()
}

// ha installs the haproxy and keepalived configurations, each validated by
// the program itself (haproxy -c, keepalived --config-test) before it
// replaces the file in place, then enables both services, restarting each
// only if its configuration changed (so a re-run does not move the VIP).
// keepalived gained --config-test in 2.0: EL7's 1.3.5 lacks it (and exits
// 0 on an option it does not know), so the host is asked first, and an
// older keepalived's configuration is checked by its start alone.
// Idempotent.
func (d *Deployment) ha(ctx context.Context, h *remote) error {
	const keepalivedTest = "if keepalived --help 2>&1 | grep -q -e --config-test; then keepalived --config-test -f %[1]s; " +
		"else echo 'this keepalived (before 2.0) has no --config-test: %[1]s is checked by its start' >&2; fi"
	a := d.haFor(h.host)
	units := []struct{ service, path, text, test string }{
		{"haproxy", HAProxyConfig, RenderHAProxy(a), "haproxy -c -q -f %s"},
		{"keepalived", KeepalivedConfig, RenderKeepalived(a), keepalivedTest},
	}
	for _, u := range units {
		changed, err := h.install(ctx, u.path, []byte(u.text), 0o644, u.test)
		if err != nil {
			return err
		}
		if err := h.service(ctx, u.service, changed); err != nil {
			return err
		}
	}
	plan.Logf(ctx, "haproxy on %s:%d and keepalived (VRRP id %d, priority %d) running", a.VIP, a.Port, a.RouterID(), a.priority())
	return nil
}
