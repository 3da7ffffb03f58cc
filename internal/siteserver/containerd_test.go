package siteserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startContainerd runs Debian's containerd as root with its own root, state
// and socket under a temporary directory, and returns the socket path. It
// is stopped when the test ends.
func startContainerd(t *testing.T) string {
	t.Helper()
	bin := requireTool(t, "containerd", "containerd")
	requireTool(t, "ctr", "containerd")
	if os.Geteuid() != 0 {
		t.Fatal("the containerd test must run as root: containerd needs it to manage its snapshots")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("containerd log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if exec.Command("ctr", "-a", sock, "version").Run() == nil {
			return sock
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("containerd did not answer on %s within 20s", sock)
	return ""
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
