package siteserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/fixture"
)

// startContainerd runs a private containerd (internal/fixture) for the
// test and returns its socket.
func startContainerd(t *testing.T) string {
	t.Helper()
	requireTool(t, "ctr", "containerd")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := fixture.StartContainerd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log: %s", c.LogPath())
		}
		c.Close()
	})
	return c.Address()
}

// TestContainerdPullsThroughMirror pulls an image by its original name with
// ctr, through a hosts.toml that mirrors the (unresolvable) original
// registry to the seed over TLS, trusting only ca.crt.
func TestContainerdPullsThroughMirror(t *testing.T) {
	l := newLayout(t)
	sock := startContainerd(t)
	// Served straight from a bundle file, as at a site.
	rs := startServerFor(t, openTestBundle(t, writeTestBundle(t, l.dir)), true)
	app := l.image(t, "registry.factory.example/library/app")
	hostsDir := t.TempDir()
	caPath := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caPath, readFile(t, rs.caCertPath), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf(`server = "https://registry.factory.example"

[host."https://%s"]
  capabilities = ["pull", "resolve"]
  ca = %q
`, rs.addr, caPath)
	if err := os.MkdirAll(filepath.Join(hostsDir, "registry.factory.example"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostsDir, "registry.factory.example", "hosts.toml"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	ctr := []string{"-a", sock, "-n", "sitetest"}
	run(t, nil, "ctr", append(ctr, "images", "pull", "--hosts-dir", hostsDir, "--snapshotter", "native", app.ref())...)
	list := run(t, nil, "ctr", append(ctr, "images", "ls")...)
	found := false
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == app.ref() {
			found = true
			if f[2] != app.digest {
				t.Errorf("containerd holds %s at %s, want %s", app.ref(), f[2], app.digest)
			}
		}
	}
	if !found {
		t.Fatalf("containerd has no image %s:\n%s", app.ref(), list)
	}
	if !strings.Contains(rs.logs.String(), "ns=registry.factory.example") {
		t.Errorf("containerd did not ask the seed as a mirror (no ns= query):\n%s", rs.logs.String())
	}
}
