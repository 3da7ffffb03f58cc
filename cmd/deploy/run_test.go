package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{[]string{"--bundle", "x", "-i", "y", "--seed-allow", "::ffff:0.0.0.0/96"}, "--seed-allow: allowed client \"::ffff:0.0.0.0/96\" admits every address"},
		{[]string{"--bundle", "x", "-i", "y", "--seed-allow", "10.0.0.1,::ffff:0:0/96"}, "admits every address"},
		{[]string{"serve", "--bundle", "x", "--addr", "127.0.0.1:0", "--allow", "::ffff:0.0.0.0/96"}, "--allow: allowed client \"::ffff:0.0.0.0/96\" admits every address"},
		{[]string{"serve", "--bundle", "x", "--addr", "127.0.0.1:0", "--allow", "::/0"}, "admits every address"},
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
