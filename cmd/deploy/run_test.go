package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/deploy"
)

// TestRunFlagRefusals: the root command refuses contradictory or incomplete
// flags before it opens anything.
func TestRunFlagRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bundle", "x", "-i", "y", "--seed-allow", "::ffff:0.0.0.0/96"}, "--seed-allow: allowed client \"::ffff:0.0.0.0/96\" admits every address"},
		{[]string{"--bundle", "x", "-i", "y", "--seed-allow", "10.0.0.1,::ffff:0:0/96"}, "admits every address"},
		{[]string{"serve", "--bundle", "x", "--addr", "127.0.0.1:0", "--allow", "::ffff:0.0.0.0/96"}, "--allow: allowed client \"::ffff:0.0.0.0/96\" admits every address"},
		{[]string{"serve", "--bundle", "x", "--addr", "127.0.0.1:0", "--allow", "::/0"}, "admits every address"},
		{[]string{"--bundle", "x.bundle"}, "give -i inventory.yaml"},
		{[]string{"-i", "inv.yaml"}, "give --bundle FILE"},
		{[]string{"--bundle", "x", "-i", "y", "--force"}, "give it with --phase ID"},
		{[]string{"--bundle", "x", "-i", "y", "--resume", "--restart"}, "none of the others can be"},
		{[]string{"--bundle", "x", "-i", "y", "--key", "k", "--insecure-skip-verify"}, "none of the others can be"},
		{[]string{"--bundle", "x", "-i", "/nonexistent/inventory.yaml"}, "inventory.yaml"},
	} {
		_, _, err := runDeploy(c.args, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("deploy %v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestPlanWithoutDeployment(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runDeploy([]string{"plan", "--state-dir", dir}, "")
	if err == nil || !strings.Contains(err.Error(), "holds no deployment") {
		t.Errorf("deploy plan on an empty state dir: %v", err)
	}
}

func TestKubeconfigCommand(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runDeploy([]string{"kubeconfig", "--state-dir", dir}, ""); err == nil || !strings.Contains(err.Error(), "kubeadm init") {
		t.Errorf("deploy kubeconfig before any cluster: %v", err)
	}
	want := filepath.Join(dir, "admin.conf")
	if err := os.WriteFile(want, []byte("apiVersion: v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runDeploy([]string{"kubeconfig", "--state-dir", dir}, "")
	if err != nil || strings.TrimSpace(out) != want {
		t.Errorf("deploy kubeconfig = %q, %v; want %s", out, err, want)
	}
}

// TestHelpListsPhases: deploy --help lists every top-level phase of
// deploy.PhaseGuide(), in order (internal/deploy's TestPhaseGuide checks the
// guide against the phases a plan has).
func TestHelpListsPhases(t *testing.T) {
	out, _, err := runDeploy([]string{"--help"}, "")
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, p := range deploy.PhaseGuide() {
		i := strings.Index(out[at:], "\n  "+p.ID+" ")
		if i < 0 {
			t.Fatalf("deploy --help does not list %s (after the phases before it):\n%s", p.ID, out)
		}
		at += i + 1
	}
}

// TestKubeconfigSaysWhereKubectlIs: deploy kubeconfig prints the path
// alone on stdout and, on stderr, how to use it with this machine's
// kubectl (or where the bundle's is) and the kubectl of the first master,
// named from the recorded plan; --quiet leaves the hint out.
func TestKubeconfigSaysWhereKubectlIs(t *testing.T) {
	dir := t.TempDir()
	writeRecordedPlan(t, dir, "") // /kubernetes/init/m1
	conf := filepath.Join(dir, "admin.conf")
	if err := os.WriteFile(conf, []byte("apiVersion: v1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	out, hint, err := runDeploy([]string{"kubeconfig", "--state-dir", dir}, "")
	if err != nil || out != conf+"\n" {
		t.Fatalf("stdout %q, %v; want the path alone", out, err)
	}
	for _, want := range []string{"this machine has none", "bundle cat BUNDLE repos/ID/Packages/kubectl-VERSION.rpm",
		"export KUBECONFIG=" + conf, "on m1, as root", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes"} {
		if !strings.Contains(hint, want) {
			t.Errorf("the hint lacks %q:\n%s", want, hint)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, hint, _ = runDeploy([]string{"kubeconfig", "--state-dir", dir}, ""); !strings.Contains(hint, "this machine has "+filepath.Join(bin, "kubectl")) {
		t.Errorf("with a kubectl on PATH:\n%s", hint)
	}
	if _, hint, _ = runDeploy([]string{"kubeconfig", "--state-dir", dir, "--quiet"}, ""); hint != "" {
		t.Errorf("--quiet printed %q", hint)
	}
}

// testInventory is a small valid inventory for flag tests that get past
// loading it.
const testInventory = `apiVersion: appliance/v1
kind: Inventory
site: factory-a
ssh:
  user: ops
hosts:
  - name: master-1
    address: 10.0.0.11
    roles: [master, worker, registry]
deployNode:
  address: 10.0.0.5
network:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
harbor:
  hostname: harbor.factory.local
`

// TestSudoPasswordFile: --sudo-password-file follows the rule of Harbor's
// password file (chmod 600, first line only), and the line sudo gets is
// the one masked.
func TestSudoPasswordFile(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inv, []byte(testInventory), 0o600); err != nil {
		t.Fatal(err)
	}
	// config returns the sudo password deploy would use, and a line holding
	// the file's first line after masking.
	config := func(pw string, mode os.FileMode) (string, string, error) {
		file := filepath.Join(t.TempDir(), "sudo.pw")
		if err := os.WriteFile(file, []byte(pw), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		f := &runFlags{bundle: "x", inventory: inv, stateDir: dir, sudoPasswordFile: file}
		var out, errb strings.Builder
		cfg, err := f.config(&out, &errb)
		if err != nil {
			return "", "", err
		}
		first, _, _ := strings.Cut(pw, "\r")
		return cfg.SudoPassword, cfg.Redactor.Redact("sudo said: " + first + " done"), nil
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if _, _, err := config("s3cret\n", mode); err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "--sudo-password-file") {
			t.Errorf("mode %o: %v, want a refusal naming --sudo-password-file and chmod 600", mode, err)
		}
	}
	if _, _, err := config("\nsecond\n", 0o600); err == nil || !strings.Contains(err.Error(), "first line") {
		t.Errorf("empty first line: %v, want a refusal", err)
	}
	pw, shown, err := config("pw-line-one\r\nrest of the file\n", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if pw != "pw-line-one" {
		t.Errorf("sudo password %q, want the first line %q", pw, "pw-line-one")
	}
	if strings.Contains(shown, "pw-line-one") {
		t.Errorf("the password sudo uses is not masked: %q", shown)
	}
}

// TestReportErrorEscapes: the error deploy stops with may carry a host's
// stderr; a terminal's escape sequences in it are printed visibly.
func TestReportErrorEscapes(t *testing.T) {
	var b strings.Builder
	reportError(&b, errors.New("phase /packages/m1 failed: dnf: \x1b[2J\x1b]0;pwn\x07 \u009b31m\r"))
	if strings.ContainsAny(b.String(), "\x1b\x07\r\u009b") || !strings.Contains(b.String(), `dnf: \x1b[2J\x1b]0;pwn\x07 \u009b31m\r`) {
		t.Errorf("reportError printed %q", b.String())
	}
}
