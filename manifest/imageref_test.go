package manifest

import (
	"errors"
	"strings"
	"testing"
)

// The grammar itself is tested in internal/ref; these check that manifest
// hands its results and errors through.
func TestParseImageRef(t *testing.T) {
	r, err := ParseImageRef("index.docker.io/busybox:1.36")
	got := []string{r.Ref, r.Canonical, r.Registry, r.Repository, r.Tag, r.Digest}
	want := []string{"index.docker.io/busybox:1.36", "docker.io/library/busybox:1.36", DockerHub, "library/busybox", "1.36", ""}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ParseImageRef = %v, %v; want %v", got, err, want)
	}
	_, err = ParseImageRef("nginx")
	var re *RefError
	if !errors.As(err, &re) || re.Ref != "nginx" || !strings.Contains(re.Reason, "no tag or digest") {
		t.Errorf("ParseImageRef(nginx) = %v, want a *RefError", err)
	}
	if got, err := CanonicalName("nginx"); err != nil || got != "docker.io/library/nginx:latest" {
		t.Errorf("CanonicalName(nginx) = %q, %v", got, err)
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
