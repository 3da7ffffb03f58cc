package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// TestInventoryExample: what deploy inventory --example prints loads with
// inventory.Load as it is, and deploy inventory -i checks it; an
// inventory with mistakes is refused with each at its line.
func TestInventoryExample(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	out, _, err := runDeploy([]string{"inventory", "--example"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "# ") || !strings.Contains(out, "docs/inventory.md") {
		t.Errorf("the example is not commented:\n%s", out)
	}
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(p)
	if err != nil {
		t.Fatalf("the printed example does not load: %v", err)
	}
	if len(inv.Hosts) == 0 {
		t.Fatal("the example has no hosts")
	}
	sum, _, err := runDeploy([]string{"inventory", "-i", p}, "")
	if err != nil || !strings.Contains(sum, "site factory-a, 5 host(s)") || !strings.Contains(sum, "worker-2") {
		t.Errorf("deploy inventory -i on the example: %v\n%s", err, sum)
	}

	bad := strings.Replace(out, "address: 10.0.0.22", "address: 10.0.0.300", 1)
	bad = strings.Replace(bad, "  port: 6443", "  port: 70000", 1)
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runDeploy([]string{"inventory", "-i", p}, "")
	if err == nil || !strings.Contains(err.Error(), "2 problem(s)") || !strings.Contains(err.Error(), "inventory.yaml:") {
		t.Errorf("an inventory with two mistakes: %v", err)
	}
	if _, _, err := runDeploy([]string{"inventory"}, ""); err == nil || !strings.Contains(err.Error(), "--example") {
		t.Errorf("deploy inventory alone: %v", err)
	}
}

// TestReadmeInventoryLoads: the inventory the README shows loads.
func TestReadmeInventoryLoads(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "**The inventory**")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	block, _, ok3 := strings.Cut(rest, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no inventory block after **The inventory**")
	}
	if _, err := inventory.Parse(filepath.Join(t.TempDir(), "inventory.yaml"), []byte(block)); err != nil {
		t.Errorf("the README's inventory: %v", err)
	}
}
