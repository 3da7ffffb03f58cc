package siteserver

import (
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParseRef(t *testing.T) {
	d := "sha256:a0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
	tests := []struct {
		in   string
		want imageRef
		ok   bool
	}{
		{"docker.io/calico/node:v3.26.4", imageRef{repo: "docker.io/calico/node", tag: "v3.26.4"}, true},
		{"127.0.0.1:5000/library/logs:1.0", imageRef{repo: "127.0.0.1:5000/library/logs", tag: "1.0"}, true},
		{"registry.k8s.io/pause:3.9@" + d, imageRef{repo: "registry.k8s.io/pause", tag: "3.9", digest: d}, true},
		{"quay.io/org/x@" + d, imageRef{repo: "quay.io/org/x", digest: d}, true},
		{"localhost:5000/app", imageRef{}, false}, // neither tag nor digest
		{"1.0", imageRef{}, false},       // an OCI layout's bare tag
		{"nginx:1.0", imageRef{}, false}, // no registry path at all
		{"docker.io/Calico/node:1", imageRef{}, false},
		{"docker.io/calico/node:-bad", imageRef{}, false},
		{"docker.io/calico/node@sha256:short", imageRef{}, false},
	}
	for _, tc := range tests {
		got, ok := parseRef(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseRef(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestResolveMirrorNames(t *testing.T) {
	cat := &catalog{repos: map[string]map[string]v1.Descriptor{
		"docker.io/library/nginx":      nil,
		"docker.io/calico/node":        nil,
		"127.0.0.1:5000/library/logs":  nil,
		"registry.factory.example/a/b": nil,
		"library/plain":                nil,
	}}
	tests := []struct{ name, ns, want string }{
		{"calico/node", "docker.io", "docker.io/calico/node"},
		{"nginx", "docker.io", "docker.io/library/nginx"},
		{"library/nginx", "docker.io", "docker.io/library/nginx"},
		{"docker.io/calico/node", "", "docker.io/calico/node"},
		{"docker.io/calico/node", "docker.io", "docker.io/calico/node"},
		{"library/logs", "127.0.0.1:5000", "127.0.0.1:5000/library/logs"},
		{"a/b", "registry.factory.example", "registry.factory.example/a/b"},
		{"library/plain", "docker.io", "library/plain"},
		{"calico/node", "", ""},
		{"calico/node", "quay.io", ""},
	}
	for _, tc := range tests {
		got, ok := cat.resolve(tc.name, tc.ns)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("resolve(%q, ns=%q) = %q, %v; want %q", tc.name, tc.ns, got, ok, tc.want)
		}
	}
}

func TestSplitRegistryPath(t *testing.T) {
	tests := []struct{ in, name, kind, ref string }{
		{"docker.io/calico/node/manifests/v1", "docker.io/calico/node", "manifests", "v1"},
		{"a/manifests/manifests/x", "a/manifests", "manifests", "x"},
		{"a/b/tags/list", "a/b", "tags", ""},
		{"a/blobs/sha256:00", "a", "blobs", "sha256:00"},
		{"a/referrers/sha256:00", "a", "referrers", "sha256:00"},
		{"a/blobs/uploads/", "", "", ""},
		{"a/other/x", "", "", ""},
		{"manifests/x", "", "", ""},
	}
	for _, tc := range tests {
		name, kind, ref, ok := splitRegistryPath(tc.in)
		if ok != (tc.name != "") || name != tc.name || kind != tc.kind || ref != tc.ref {
			t.Errorf("splitRegistryPath(%q) = %q %q %q %v", tc.in, name, kind, ref, ok)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		h       string
		size    int64
		off, n  int64
		partial bool
		bad     bool
	}{
		{"", 10, 0, 0, false, false},
		{"bytes=0-9", 10, 0, 10, true, false},
		{"bytes=5-", 10, 5, 5, true, false},
		{"bytes=-3", 10, 7, 3, true, false},
		{"bytes=-30", 10, 0, 10, true, false},
		{"bytes=8-100", 10, 8, 2, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=0-0", 0, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=3-2", 10, 0, 0, false, true},
		{"bytes=a-", 10, 0, 0, false, true},
		{"bytes=1-2,4-5", 10, 0, 0, false, false},
		{"items=1-2", 10, 0, 0, false, false},
	}
	for _, tc := range tests {
		off, n, partial, err := parseRange(tc.h, tc.size)
		if (err != nil) != tc.bad || off != tc.off || n != tc.n || partial != tc.partial {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v, %v", tc.h, tc.size, off, n, partial, err)
		}
	}
}

func TestMirrorCandidatesOrder(t *testing.T) {
	got := mirrorCandidates("nginx", "docker.io")
	want := []string{"docker.io/nginx", "docker.io/library/nginx", "nginx"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
