package deploy

import (
	"fmt"
	"strings"
)

// PhaseDoc describes one top-level phase of a deployment for people.
type PhaseDoc struct {
	ID   string
	What string // what it does, and when the plan has it
}

// PhaseGuide lists every top-level phase Phases can plan, in plan order.
// deploy --help and this package's documentation are written from it, and
// TestPhaseGuide checks it against the phases of the fullest plan, so a
// phase added to Phases without a line here fails the tests.
var PhaseGuide = []PhaseDoc{
	{"/verify", "every entry's digest (the signature is checked before anything)"},
	{"/seed", "the site server answers (it runs while deploy runs, and serves only the inventory's hosts, the deploy node and loopback; --seed-allow adds addresses, others get 403)"},
	{"/preflight", "OS, kernel, CPU, memory, disk, ports (and who holds them), clock, tools, site server, the compatibility matrix"},
	{"/unique", "no two hosts are clones"},
	{"/repos", "site CA in the trust store, yum repos on the site server"},
	{"/packages", "each role's packages, from the bundle only"},
	{"/system", "host names, /etc/hosts, modules, sysctls, swap, SELinux, chrony"},
	{"/containerd", "config.toml and a mirror for every source registry, to the seed"},
	{"/ha", "keepalived and haproxy on the masters, for apiserver.vip (several masters only)"},
	{"/kubernetes", "when the bundle carries Kubernetes: kubeadm init on the first master, the other masters and the workers join, the pod network, every node Ready; the admin kubeconfig lands in the state directory (deploy kubeconfig)"},
	{"/harbor", "when a host has the registry role and the bundle Harbor's offline installer: Harbor installed there, loaded with every image under its original name, every node's containerd pulling from it"},
	{"/stack", "when the bundle plans releases or manifests: each Helm release and manifest set of the stack, in order, each waiting for its workloads"},
}

// PhaseGuideText is PhaseGuide as an indented two-column list, each line
// wrapped at about 78 columns.
func PhaseGuideText(indent string) string {
	width := 0
	for _, p := range PhaseGuide {
		width = max(width, len(p.ID))
	}
	var b strings.Builder
	for _, p := range PhaseGuide {
		lead := fmt.Sprintf("%s%-*s  ", indent, width, p.ID)
		pad := strings.Repeat(" ", len(lead))
		line := lead
		for i, w := range strings.Fields(p.What) {
			if i > 0 && len(line)+1+len(w) > 78 {
				b.WriteString(line + "\n")
				line = pad + w
				continue
			}
			if i > 0 {
				line += " "
			}
			line += w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
