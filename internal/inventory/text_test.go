package inventory

import (
	"errors"
	"strings"
	"testing"
)

// TestControlCharactersRefused: no inventory string may hold a control
// character (issue 18: storage.nfs.path "/export\n  injected: yes" went into
// a rendered values file); each is refused at its field and line, and paths
// written into a site's configuration follow a path's grammar.
func TestControlCharactersRefused(t *testing.T) {
	for _, c := range []struct {
		name, old, new, field, msg string
		at                         string // the problem's line holds this text (default field's last part)
	}{
		{"nfs path newline", "path: /export", `path: "/export\n  injected: yes"`, "storage.nfs.path", `"/export\n  injected: yes" holds the control character U+000A`, ""},
		{"nfs path NEL", "path: /export", `path: "/export\u0085x"`, "storage.nfs.path", "U+0085", ""},
		{"nfs path line separator", "path: /export", `path: "/export\u2028x"`, "storage.nfs.path", "U+2028", ""},
		{"nfs path escape", "path: /export", `path: "/export\e[2J"`, "storage.nfs.path", "U+001B", ""},
		{"nfs path space", "path: /export", `path: "/export dir"`, "storage.nfs.path", "not a path of letters, digits", ""},
		{"nfs path quote", "path: /export", `path: "/export\"x"`, "storage.nfs.path", "not a path of letters, digits", ""},
		{"nfs path dotdot", "path: /export", `path: "/export/../etc"`, "storage.nfs.path", "not a clean absolute path", ""},
		{"harbor data volume", "  hostname: harbor.factory.local\n", "  hostname: harbor.factory.local\n  dataVolume: \"/data\\tx\"\n", "harbor.dataVolume", "U+0009", "dataVolume:"},
		{"zone with a newline", "  vip: 10.0.0.10\n", "  vip: \"fe80::1%eth0\\ngpgcheck=0\"\n", "apiserver.vip", "U+000A", "vip:"},
		{"known hosts", "knownHosts: ~/.ssh/known_hosts", `knownHosts: "~/.ssh/known_hosts\u202e"`, "ssh.knownHosts", "U+202E", ""},
		{"bundle key", "site: factory-a\n", "site: factory-a\nbundleKey: \"/keys/a\\x7f.pub\"\n", "bundleKey", "U+007F", "bundleKey:"},
		{"host key", "    user: ops\n", "    user: ops\n    hostKey: \"SHA256:\\n\"\n", "hosts[3].hostKey", "U+000A", "hostKey:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			doc := edit(base, c.old, c.new, 1)
			_, err := parse(t, doc)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			at := c.at
			if at == "" {
				at = c.field[strings.LastIndexByte(c.field, '.')+1:] + ":"
			}
			for _, p := range ve.Problems {
				if p.Field == c.field && strings.Contains(p.Message, c.msg) && p.Line == lineOf(doc, at, 1) {
					return
				}
			}
			t.Errorf("no problem at %s (line of %q) saying %q in:\n%v", c.field, c.new, c.msg, err)
		})
	}
}

// TestPathsByGrammar: ordinary export paths and data volumes pass.
func TestPathsByGrammar(t *testing.T) {
	for _, p := range []string{"/export", "/srv/nfs/k8s-data_1", "/export/a.b@c+d=e,f:g~h"} {
		doc := edit(base, "path: /export", "path: "+p, 1)
		doc = edit(doc, "  hostname: harbor.factory.local\n", "  hostname: harbor.factory.local\n  dataVolume: "+p+"\n", 1)
		if _, err := parse(t, doc); err != nil {
			t.Errorf("path %s: %v", p, err)
		}
	}
}
