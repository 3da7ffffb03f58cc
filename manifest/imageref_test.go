package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestParseImageRef(t *testing.T) {
	const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		ref                                    string
		canonical, registry, repo, tag, digest string
	}{
		{"calico/node:v3.26.4", "docker.io/calico/node:v3.26.4", "docker.io", "calico/node", "v3.26.4", ""},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"docker.io/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"127.0.0.1:5000/library/app:1.0", "127.0.0.1:5000/library/app:1.0", "127.0.0.1:5000", "library/app", "1.0", ""},
		{"localhost/app:1", "localhost/app:1", "localhost", "app", "1", ""},
		{"localhost:5000/a/b/c:1", "localhost:5000/a/b/c:1", "localhost:5000", "a/b/c", "1", ""},
		{"registry.factory.example/library/db@" + dig, "registry.factory.example/library/db@" + dig, "registry.factory.example", "library/db", "", dig},
		{"quay.io/ceph/ceph:v17@" + dig, "quay.io/ceph/ceph:v17@" + dig, "quay.io", "ceph/ceph", "v17", dig},
		{"[::1]:5000/app:1", "[::1]:5000/app:1", "[::1]:5000", "app", "1", ""},
	}
	for _, tt := range tests {
		r, err := ParseImageRef(tt.ref)
		if err != nil {
			t.Errorf("ParseImageRef(%q): %v", tt.ref, err)
			continue
		}
		got := []string{r.Ref, r.Canonical, r.Registry, r.Repository, r.Tag, r.Digest}
		want := []string{tt.ref, tt.canonical, tt.registry, tt.repo, tt.tag, tt.digest}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ParseImageRef(%q) = %v, want %v", tt.ref, got, want)
		}
	}
}

func TestParseImageRefErrors(t *testing.T) {
	tests := []struct{ ref, reason, fix string }{
		{"", "it is empty", "registry/repository:tag"},
		{"nginx", "no tag or digest", "implicit :latest"},
		{"app:1.0/extra", `tag "1.0/extra" contains '/'`, "move the '/'"},
		{"Nginx:1", "upper-case", "write nginx"},
		{"a/b:", `tag "" is invalid`, "1-128"},
		{"a/b@sha512:abcd", "is not sha256:", "copy the digest"},
		{"a/b@sha256:ABCD", "is not sha256:", "copy the digest"},
		{"a b:1", "whitespace", "remove the spaces"},
		{"https://r.lan/a:1", "URL scheme", "insecureRegistries"},
		{"a@b@c", "more than one '@'", "keep one"},
		{"r.lan/a//b:1", `invalid component ""`, "separated by"},
		{"r.lan/a-:1", `invalid component "a-"`, "separated by"},
		{"r.lan/:1", "repository is empty", "registry/repository"},
		{"r.lan:abc/x:1", `registry "r.lan:abc" is not a valid host[:port]`, "host:port"},
		{"app:v1/x", `tag "v1/x" contains '/'`, "move the '/'"},
		{strings.Repeat("a", 1100) + ":1", "longer than 1024", "shorten"},
	}
	for _, tt := range tests {
		_, err := ParseImageRef(tt.ref)
		var re *RefError
		if !errors.As(err, &re) {
			t.Errorf("ParseImageRef(%q) = %v, want a *RefError", tt.ref, err)
			continue
		}
		if !strings.Contains(re.Reason, tt.reason) || !strings.Contains(re.Fix, tt.fix) {
			t.Errorf("ParseImageRef(%q): reason %q fix %q; want %q / %q", tt.ref, re.Reason, re.Fix, tt.reason, tt.fix)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	tests := map[string]string{
		"nginx":                      "docker.io/library/nginx:latest",
		"nginx:1.25":                 "docker.io/library/nginx:1.25",
		"registry.lan:5000/a/b":      "registry.lan:5000/a/b:latest",
		"index.docker.io/calico/cni": "docker.io/calico/cni:latest",
	}
	for in, want := range tests {
		if got, err := CanonicalName(in); err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CanonicalName("Bad/Name"); err == nil {
		t.Error("CanonicalName(Bad/Name) succeeded")
	}
}

func TestMirrors(t *testing.T) {
	m := Mirrors{"docker.io": "127.0.0.1:5000", "quay.io": "harbor.lan/quay-proxy/"}
	tests := map[string]string{
		"docker.io/calico/node:v3.26.4": "127.0.0.1:5000/calico/node:v3.26.4",
		"quay.io/ceph/ceph:v17":         "harbor.lan/quay-proxy/ceph/ceph:v17",
		"ghcr.io/a/b:1":                 "ghcr.io/a/b:1",
		"index.docker.io/library/x:1":   "127.0.0.1:5000/library/x:1",
	}
	for in, want := range tests {
		if got := m.Rewrite(in); got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	over := m.With(Mirrors{"docker.io": "10.0.0.1:5000"})
	if over["docker.io"] != "10.0.0.1:5000" || m["docker.io"] != "127.0.0.1:5000" || over["quay.io"] == "" {
		t.Errorf("With: got %v (original %v)", over, m)
	}
	reg, mirror, err := ParseMirror("index.docker.io=127.0.0.1:5000")
	if err != nil || reg != "docker.io" || mirror != "127.0.0.1:5000" {
		t.Errorf("ParseMirror = %q %q %v", reg, mirror, err)
	}
	for _, bad := range []string{"docker.io", "docker.io=http://x", "docker.io/x=h", "=h", "docker.io=h/UPPER"} {
		if _, _, err := ParseMirror(bad); err == nil {
			t.Errorf("ParseMirror(%q) succeeded", bad)
		}
	}
}
