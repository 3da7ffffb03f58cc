package main

import (
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
// deploy.PhaseGuide, in order (internal/deploy's TestPhaseGuide checks the
// guide against the phases a plan has).
func TestHelpListsPhases(t *testing.T) {
	out, _, err := runDeploy([]string{"--help"}, "")
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, p := range deploy.PhaseGuide {
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
	writeRecordedPlan(t, dir) // /kubernetes/init/m1
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
