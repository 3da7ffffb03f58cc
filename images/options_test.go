package images

import (
	"strings"
	"testing"
)

func TestOptionsAreChecked(t *testing.T) {
	cases := []struct {
		name string
		opt  Option
		want string
	}{
		{"mirror with scheme", WithMirror("docker.io", "http://m:5000"), "HOST or HOST:PORT"},
		{"mirror with path", WithMirror("docker.io", "m:5000/x"), "HOST or HOST:PORT"},
		{"mirror to itself", WithMirror("docker.io", "index.docker.io"), "points at itself"},
		{"empty mirror", WithMirror("quay.io", ""), "must be set"},
		{"bad platform", WithPlatform("linux"), "os/arch"},
		{"no concurrency", WithConcurrency(0, 1), "concurrency"},
		{"no attempts", WithRetry(0, 0), "attempts"},
		{"insecure with path", WithInsecureRegistries("h/x"), "HOST or HOST:PORT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPuller(newCache(t), c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	o, err := makeOptions([]Option{WithMirror("docker.io", "127.0.0.1:5001")})
	if err != nil {
		t.Fatal(err)
	}
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		ref, pin, name, fetch, id string
	}{
		{"calico/node:v3.26.4", "", "docker.io/calico/node:v3.26.4", "127.0.0.1:5001/calico/node", "v3.26.4"},
		{"busybox", "", "docker.io/library/busybox:latest", "127.0.0.1:5001/library/busybox", "latest"},
		{"docker.io/library/busybox:1", d, "docker.io/library/busybox:1", "127.0.0.1:5001/library/busybox", d},
		{"quay.io/x/y@" + d, "", "quay.io/x/y@" + d, "quay.io/x/y", d},
		{"quay.io/x/y:1@" + d, "", "quay.io/x/y:1", "quay.io/x/y", d},
		{"localhost:5000/a/b:2", "", "localhost:5000/a/b:2", "localhost:5000/a/b", "2"},
	}
	for _, c := range cases {
		tg, err := o.parse(c.ref, c.pin)
		if err != nil {
			t.Fatalf("%s: %v", c.ref, err)
		}
		if tg.name() != c.name || tg.fetch.Name() != c.fetch || tg.identifier() != c.id {
			t.Errorf("%s: name %s fetch %s id %s, want %s %s %s", c.ref, tg.name(), tg.fetch.Name(), tg.identifier(), c.name, c.fetch, c.id)
		}
	}
	if _, err := o.parse("quay.io/x/y@"+d, "sha256:"+strings.Repeat("f", 64)); err == nil {
		t.Error("a pin differing from the reference's digest was accepted")
	}
}
