package inventory

import (
	"errors"
	"net"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fuzzName is the file name inventories are parsed under in FuzzParse: its
// directory does not exist, so relative key files never do either.
const fuzzName = "/nonexistent-appliance-fuzz/inventory.yaml"

// plainWord is what every inventory value deploy writes into host commands
// and configuration files (/etc/hosts, chrony.conf, keepalived.conf,
// haproxy.cfg, the yum repo file) must be: no space, newline, quote or
// shell metacharacter.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9._:@-]*$`)

// FuzzParse feeds arbitrary YAML to the inventory loader. It must never
// panic; a refusal is a *ValidationError whose every problem has a message,
// a fix and a line inside the file; an accepted inventory holds no control
// character anywhere, only plain words where deploy uses it on hosts, and
// reads back the same after yaml.Marshal.
// Run: go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=30s ./internal/inventory
func FuzzParse(f *testing.F) {
	f.Setenv("SSH_AUTH_SOCK", "") // a missing key file is then an error, whatever the environment
	f.Add(base)
	f.Add(edit(base, "  port: 22\n", "  port: 22\n  sudo: true\n  jumpHost: {address: bastion.factory.local, hostKey: \"SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\"}\n", 1))
	f.Add(`apiVersion: appliance/v1
kind: Inventory
site: v6
hosts:
  - {name: m1, address: "fd00::11", roles: [master, registry]}
deployNode: {address: "fd00::5"}
ntp: ["fd00::1", ntp.example.com]
harbor: {hostname: harbor.v6.local}
storage: {ceph: {monitors: ["[fd00::50]:6789"]}}
`)
	// An IPv6 zone may hold any text, a newline included; netip.ParseAddr
	// accepts it.
	f.Add(edit(base, "deployNode:\n  address: 10.0.0.5\n", "deployNode:\n  address: \"fe80::5%eth0\\ngpgcheck=0\"\n", 1))
	f.Add("hosts: [{name: a, address: 1.2.3.4, roles: [master]}, {name: a, address: 1.2.3.4, roles: [master, master, x]}]\nsit: x\n")
	f.Add(edit(base, "path: /export", "path: \"/export\\n  injected: yes\"", 1))
	f.Add("a: &a [*a, *a]\n")
	f.Add("hosts:\n  - name: [unclosed\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 1<<14 {
			return
		}
		inv, err := Parse(fuzzName, []byte(doc))
		if err != nil {
			checkRefusal(t, doc, err)
			return
		}
		checkPlain(t, inv)
		walkStrings(reflect.ValueOf(inv).Elem(), "", func(field, s string) {
			if r, bad := controlRune(s); bad {
				t.Fatalf("accepted %s %q holding U+%04X", field, s, r)
			}
		})
		out, err := yaml.Marshal(inv)
		if err != nil {
			t.Fatalf("yaml.Marshal of an accepted inventory: %v", err)
		}
		again, err := Parse(fuzzName, out)
		if err != nil {
			t.Fatalf("the accepted inventory, marshalled, is refused: %v\n%s", err, out)
		}
		inv.Warnings, again.Warnings = nil, nil
		if !reflect.DeepEqual(inv, again) {
			t.Fatalf("the inventory changed through yaml.Marshal:\n%+v\n%+v\n%s", inv, again, out)
		}
	})
}

func checkRefusal(t *testing.T, doc string, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 {
		t.Fatalf("refused without a ValidationError listing problems: %v", err)
	}
	lines := yamlLines(doc)
	for _, p := range ve.Problems {
		if p.Message == "" || p.Fix == "" || p.File != fuzzName {
			t.Fatalf("problem without a message, fix or file: %+v", p)
		}
		if p.Line < 0 || p.Line > lines+1 {
			t.Fatalf("problem on line %d of a %d-line file: %+v", p.Line, lines, p)
		}
	}
}

// checkPlain checks every value of an accepted inventory that deploy puts
// in host commands or configuration files.
func checkPlain(t *testing.T, inv *Inventory) {
	t.Helper()
	check := func(field, s string) {
		if !plainWord.MatchString(s) {
			t.Fatalf("accepted %s %q, which is not a plain word", field, s)
		}
	}
	check("site", inv.Site)
	check("deployNode.address", inv.DeployNode.Address)
	check("apiserver.vip", inv.APIServer.VIP)
	check("apiserver.interface", inv.APIServer.Interface)
	check("harbor.hostname", inv.Harbor.Hostname)
	for _, h := range inv.Hosts {
		check("host name", h.Name)
		check("host address", h.Address)
		check("host user", h.User)
		for _, r := range h.Roles {
			check("role", string(r))
		}
		if h.JumpHost != nil {
			check("jump host address", h.JumpHost.Address)
			check("jump host user", h.JumpHost.User)
		}
	}
	for _, s := range inv.NTP {
		check("ntp server", s)
	}
	if nfs := inv.Storage.NFS; nfs != nil {
		check("nfs server", nfs.Server)
	}
	if ceph := inv.Storage.Ceph; ceph != nil {
		for _, m := range ceph.Monitors {
			host, _, err := net.SplitHostPort(m)
			if err != nil {
				t.Fatalf("accepted ceph monitor %q: %v", m, err)
			}
			check("ceph monitor", host)
		}
	}
}

// yamlLines counts lines as YAML does: \n, \r, \r\n, NEL, LS and PS each
// end one.
func yamlLines(doc string) int {
	doc = strings.ReplaceAll(doc, "\r\n", "\n")
	n := 1
	for _, r := range doc {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}
