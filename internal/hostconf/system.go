package hostconf

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// SeedHostname is the name every host's /etc/hosts gives the deploy node,
// where the site server runs.
const SeedHostname = "seed.appliance.internal"

// Files the /system phase owns on every host.
const (
	SysctlFile  = "/etc/sysctl.d/90-appliance-kubernetes.conf"
	ModulesFile = "/etc/modules-load.d/appliance-kubernetes.conf"
	ChronyFile  = "/etc/chrony.conf"
)

// HostsBegin and HostsEnd mark the block of /etc/hosts the deployment owns; lines outside
// it are kept as they are.
const (
	HostsBegin = "# BEGIN appliance: managed by deploy, do not edit"
	HostsEnd   = "# END appliance"
)

// KernelModules are loaded now and on every boot.
var KernelModules = []string{"overlay", "br_netfilter"}

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
		case line == HostsBegin:
			in = true
		case line == HostsEnd && in:
			in = false
		case !in:
			kept = append(kept, line)
		}
	}
	for len(kept) > 0 && kept[len(kept)-1] == "" {
		kept = kept[:len(kept)-1]
	}
	block := append([]string{HostsBegin}, entries...)
	block = append(block, HostsEnd)
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

// RenderModules is the modules-load.d file of KernelModules.
func RenderModules() string {
	return "# Written by deploy: modules Kubernetes needs.\n" + strings.Join(KernelModules, "\n") + "\n"
}
