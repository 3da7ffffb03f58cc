//go:build site

package sitetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
)

// The cases of a new user's first day (issue 20) that need the site: each
// runs the deployer with a state directory of its own, so the deployment
// the calling test goes on with is untouched.

// asideState points d at a fresh state directory until the test ends.
func (d *deployer) asideState(t *testing.T, name string) {
	t.Helper()
	main := d.state
	d.state = filepath.Join(d.site.StateDir, "deploy-state-"+name)
	t.Cleanup(func() { d.state = main })
}

// testOneMasterVIPRefused: the one-master site's inventory with the site's
// VIP put back is refused when deploy loads it, before any host is
// touched: the error names apiserver.vip at its line, the single master and
// the fix; no journal is written and neither keepalived nor haproxy runs.
func testOneMasterVIPRefused(t *testing.T, d *deployer) {
	d.asideState(t, "one-master-vip")
	text := string(mustRead(t, d.inv))
	withVIP := strings.Replace(text, "apiserver: {port: 6443}", "apiserver: {vip: "+d.site.VIP+", port: 6443, interface: eth0}", 1)
	if withVIP == text {
		t.Fatalf("the one-master inventory has no VIP-less apiserver line to change:\n%s", text)
	}
	inv := filepath.Join(d.site.StateDir, "inventory-one-master-vip.yaml")
	if err := os.WriteFile(inv, []byte(withVIP), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.runWith(inv)
	if err == nil {
		t.Fatalf("deploy accepted apiserver.vip with one master:\n%s", out)
	}
	for _, want := range []string{"inventory-one-master-vip.yaml:", "apiserver.vip", "master-1 is the only master", "remove apiserver.vip"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
	}
	if recs, _ := plan.ReadJournal(d.state); len(recs) > 0 {
		t.Errorf("the refused deployment wrote %d journal records", len(recs))
	}
	for _, svc := range []string{"keepalived", "haproxy"} {
		if st, _ := d.site.Exec("master-1", "systemctl", "is-active", svc); strings.TrimSpace(st) == "active" {
			t.Errorf("%s runs on master-1 after the refusal", svc)
		}
	}
	t.Logf("one master with a VIP refused:\n%s", out)
}

// testForeignHAProxyNamed: an haproxy that an earlier deployment's /ha
// left holding the apiserver port of the one-master site (no VIP, so no
// /ha) fails /preflight on master-1, which names haproxy, its pid and the
// command that stops it and keepalived; after that command, /preflight
// passes.
func testForeignHAProxyNamed(t *testing.T, d *deployer) {
	d.asideState(t, "foreign-haproxy")
	s := d.site
	m, err := s.Host("master-1")
	if err != nil {
		t.Fatal(err)
	}
	// What /ha writes, bound to the master's own address (the test site's
	// hosts do not bind addresses they do not have).
	self := inventory.Host{Name: m.Name, Address: m.Address}
	cfg := hostconf.RenderHAProxy(hostconf.HA{Site: "earlier", VIP: m.Address, Port: 6443, Interface: "eth0", Self: self, Masters: []inventory.Host{self}})
	mustExec(t, s, m.Name, "cp", "-a", hostconf.HAProxyConfig, hostconf.HAProxyConfig+".site-test")
	t.Cleanup(func() {
		_, _ = s.Exec(m.Name, "sh", "-c", "systemctl disable --now haproxy; mv -f "+hostconf.HAProxyConfig+".site-test "+hostconf.HAProxyConfig)
	})
	if out, err := s.ExecInput(m.Name, strings.NewReader(cfg), "sh", "-c", "cat >"+hostconf.HAProxyConfig+" && systemctl start haproxy"); err != nil {
		t.Fatalf("starting haproxy on %s: %v\n%s", m.Name, err, out)
	}
	if ss := mustExec(t, s, m.Name, "ss", "-Hltn"); !strings.Contains(ss, m.Address+":6443") {
		t.Fatalf("haproxy does not hold %s:6443:\n%s", m.Address, ss)
	}

	out, err := d.run()
	if err == nil {
		t.Fatalf("deploy went past preflight with haproxy on the apiserver port:\n%s", out)
	}
	r := d.status()["/preflight/master-1"]
	if r.State != plan.Failed {
		t.Fatalf("/preflight/master-1 is %s, want failed:\n%s", r.State, out)
	}
	for _, want := range []string{"TCP port 6443 is in use by haproxy (pid ", "no apiserver.vip, so there is no /ha phase",
		"earlier deployment's /ha", "systemctl disable --now haproxy keepalived"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("/preflight/master-1's error lacks %q:\n%s", want, r.Error)
		}
	}
	t.Logf("preflight: %s", r.Error)

	mustExec(t, s, m.Name, "systemctl", "disable", "--now", "haproxy", "keepalived")
	if out, err := d.run("--phase", "/preflight"); err != nil {
		t.Fatalf("/preflight after the named fix: %v\n%s", err, out)
	}
}
