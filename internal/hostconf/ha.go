package hostconf

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// Paths of the HA configuration on a master.
const (
	KeepalivedConfig = "/etc/keepalived/keepalived.conf"
	HAProxyConfig    = "/etc/haproxy/haproxy.cfg"
)

// DefaultVRRPInterface is the interface keepalived holds the VIP on when the
// inventory names none.
const DefaultVRRPInterface = "eth0"

// VRRPPassLen is the length of a VRRP password: auth_type PASS carries 8
// bytes, and keepalived cuts a longer auth_pass (and its config test fails).
const VRRPPassLen = 8

// HA is what the keepalived and haproxy configurations are rendered from.
type HA struct {
	Site      string
	VIP       string
	Port      int // the VIP's port (apiserver.port)
	Interface string
	Self      inventory.Host
	Masters   []inventory.Host // every master, in inventory order
	// AuthPass is the site's VRRP password (VRRPPasswordFile). It is used
	// with an IPv4 VIP only: an IPv6 VIP needs VRRPv3, which has no
	// authentication.
	AuthPass string
}

// CheckVRRPPass accepts a VRRP password keepalived takes as one word: 1 to
// VRRPPassLen letters or digits.
func CheckVRRPPass(p string) error {
	if len(p) > VRRPPassLen {
		return fmt.Errorf("the VRRP password has %d characters; keepalived uses at most %d: shorten it, or remove the file and deploy makes one", len(p), VRRPPassLen)
	}
	for _, r := range p {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return fmt.Errorf("the VRRP password holds %q; use letters and digits only, or remove the file and deploy makes one", r)
		}
	}
	return nil
}

// VIPPrefix is the VIP with the prefix length of a single address of its
// family: /32 for IPv4, /128 for IPv6.
func (a HA) VIPPrefix() string {
	if ip, err := netip.ParseAddr(a.VIP); err == nil && ip.Is6() && !ip.Is4In6() {
		return a.VIP + "/128"
	}
	return a.VIP + "/32"
}

// Authentication is keepalived's authentication block: auth_type PASS with
// the site's password over IPv4, nothing over IPv6 (VRRPv3).
func (a HA) Authentication() string {
	if a.AuthPass == "" || strings.HasSuffix(a.VIPPrefix(), "/128") {
		return ""
	}
	return fmt.Sprintf("  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", a.AuthPass)
}

// RouterID is the VRRP virtual router id of a site: derived from the site
// name and the VIP, so two sites on one segment rarely collide (1..255).
func (a HA) RouterID() int {
	f := fnv.New32a()
	f.Write([]byte(a.Site + "/" + a.VIP))
	return int(f.Sum32()%255) + 1
}

// Priority is the master's VRRP priority: the first master listed holds the
// VIP while it is healthy.
func (a HA) Priority() int {
	for i, m := range a.Masters {
		if m.Name == a.Self.Name {
			return 150 - 10*i
		}
	}
	return 100
}

// RenderKeepalived is keepalived.conf: every master is a BACKUP (no
// preemption storms) with its own priority, VRRP by unicast between the
// masters (factory switches often drop multicast), adverts taken only from
// the other masters (check_unicast_src) and, over IPv4, only with the
// site's password, and the VIP follows a running haproxy. The file holds
// the password: it is installed mode 0600.
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
  check_unicast_src
  unicast_peer {
%[7]s  }
%[8]s  virtual_ipaddress {
    %[9]s dev %[3]s
  }
  track_script {
    chk_haproxy
  }
}
`, a.VIP, a.Self.Name, a.Interface, a.RouterID(), a.Priority(), a.Self.Address, peers.String(),
		a.Authentication(), a.VIPPrefix())
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
