package ref

import (
	"errors"
	"strings"
	"testing"
)

const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	tests := []struct {
		in                     string
		canonical              string
		registry, repo, tag, d string
	}{
		{"calico/node:v3.26.4", "docker.io/calico/node:v3.26.4", "docker.io", "calico/node", "v3.26.4", ""},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"docker.io/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"127.0.0.1:5000/library/app:1.0", "127.0.0.1:5000/library/app:1.0", "127.0.0.1:5000", "library/app", "1.0", ""},
		{"registry-1.docker.io/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""},
		{"localhost/app:1", "localhost/app:1", "localhost", "app", "1", ""},
		{"localhost:5000/a/b/c:1", "localhost:5000/a/b/c:1", "localhost:5000", "a/b/c", "1", ""},
		{"[::1]:5000/app:1", "[::1]:5000/app:1", "[::1]:5000", "app", "1", ""},
		{"r.lan/db@" + dig, "r.lan/db@" + dig, "r.lan", "db", "", dig},
		{"quay.io/ceph/ceph:v17@" + dig, "quay.io/ceph/ceph:v17@" + dig, "quay.io", "ceph/ceph", "v17", dig},
	}
	for _, tt := range tests {
		r, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := []string{r.String(), r.Registry, r.Repository, r.Tag, r.Digest}
		want := []string{tt.canonical, tt.registry, tt.repo, tt.tag, tt.d}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, reason, fix string }{
		{"", "it is empty", "registry/repository:tag"},
		{"nginx", "no tag or digest", "implicit :latest"},
		{"app:1.0/extra", `tag "1.0/extra" contains '/'`, "move the '/'"},
		{"Nginx:1", "upper-case", "write nginx"},
		{"a/b:", `tag "" is invalid`, "1-128"},
		{"a/b@sha512:abcd", "is not sha256:", "copy the digest"},
		{"a/b@sha256:ABCD", "is not sha256:", "copy the digest"},
		{"app:v1/x", `tag "v1/x" contains '/'`, "move the '/'"},
		{"r.lan/a-:1", `invalid component "a-"`, "separated by"},
		{"a b:1", "whitespace", "remove the spaces"},
		{"https://r.lan/a:1", "URL scheme", "insecureRegistries"},
		{"a@b@c", "more than one '@'", "keep one"},
		{"r.lan/a//b:1", `invalid component ""`, "separated by"},
		{"r.lan/:1", "repository is empty", "registry/repository"},
		{"r.lan:abc/x:1", `registry "r.lan:abc" is not a valid host[:port]`, "host:port"},
		{strings.Repeat("a", 1100) + ":1", "longer than 1024", "shorten"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error", tt.in, err)
			continue
		}
		if e.Ref != tt.in || !strings.Contains(e.Reason, tt.reason) || !strings.Contains(e.Fix, tt.fix) {
			t.Errorf("Parse(%q): reason %q fix %q; want %q / %q", tt.in, e.Reason, e.Fix, tt.reason, tt.fix)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"registry.lan:5000/a/b", "registry.lan:5000/a/b:latest"},
		{"index.docker.io/calico/cni", "docker.io/calico/cni:latest"},
		{"a/b@" + dig, "docker.io/a/b@" + dig},
		{"Bad/Name", ""},
		{"a/b@sha256:short", ""},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Canonical(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct{ in, why string }{ // why "" means valid
		{"nginx", ""},
		{"docker.io/library/nginx:1.25", ""},
		{"r.lan:5000/a/b@sha512:" + strings.Repeat("ab", 64), ""},
		{"localhost/app", ""},
		{"[::1]:5000/app:1@" + dig, ""},
		{"", "1 to 1024 characters"},
		{strings.Repeat("a", 1025), "1 to 1024 characters"},
		{"a@sha256:ABC", "algorithm:hex"},
		{"r.lan:x/a", "host or host:port"},
		{"a:-bad", "a tag is"},
		{"A/b", "each path element"},
		{"a//b", "each path element"},
		{"a;rm -rf /:1", "each path element"},
	}
	for _, tt := range tests {
		err := Check(tt.in)
		switch {
		case tt.why == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.in, err)
		case tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why)):
			t.Errorf("Check(%q) = %v, want %q", tt.in, err, tt.why)
		}
	}
}

func TestNormalizeRegistry(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io": "docker.io", "index.docker.io": "docker.io", "registry-1.docker.io": "docker.io",
		"quay.io": "quay.io", "r.lan:5000": "r.lan:5000", "docker.io.evil.example": "docker.io.evil.example",
	} {
		if got := NormalizeRegistry(in); got != want {
			t.Errorf("NormalizeRegistry(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidRegistryAndRepository(t *testing.T) {
	for in, want := range map[string]bool{
		"r.lan": true, "r.lan:5000": true, "[::1]:5000": true, "10.0.0.1": true,
		"r.lan:": false, "-r.lan": false, "http://r.lan": false, "r.lan/x": false, "r.lan:123456": false,
	} {
		if got := ValidRegistry(in); got != want {
			t.Errorf("ValidRegistry(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"a/b": "", "a__b/c-d.e": "", "": "is empty", "A": "upper-case", "a/-b": "invalid component",
	} {
		msg, _ := RepositoryProblem(in)
		if (want == "") != (msg == "") || !strings.Contains(msg, want) {
			t.Errorf("RepositoryProblem(%q) = %q, want %q", in, msg, want)
		}
	}
}
