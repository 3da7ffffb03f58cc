package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleLoads: Example loads without a problem or a warning, as
// written (no file it names need exist), and has the hosts it describes.
func TestExampleLoads(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	p := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(p, Example, 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) > 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	if len(inv.HostsWithRole(RoleMaster)) != 3 || inv.APIServer.VIP == "" {
		t.Errorf("the example is not three masters behind a VIP: %+v", inv.Hosts)
	}
	if r, ok := inv.Registry(); !ok || !r.HasRole(RoleWorker) {
		t.Errorf("the example's registry host is not also a worker: %+v", r)
	}
}

// TestExampleShowsEveryField: every field of the inventory appears in
// Example, set or in a comment, so a new field is not left out of it.
func TestExampleShowsEveryField(t *testing.T) {
	text := string(Example)
	for _, f := range FieldPaths() {
		name := f[strings.LastIndexAny(f, ".]")+1:]
		if !strings.Contains(text, name+":") {
			t.Errorf("Example does not show %s", f)
		}
	}
}

// TestFieldPaths: FieldPaths lists nested fields and slices' fields, and
// not the fields a file cannot set.
func TestFieldPaths(t *testing.T) {
	got := strings.Join(FieldPaths(), " ")
	for _, want := range []string{"apiVersion", "hosts[].roles", "hosts[].jumpHost.hostKey", "ssh.jumpHost.keyFile",
		"storage.ceph.clusterID", "kubernetes.cgroupDriver", "harbor.dataVolume"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("FieldPaths lacks %s: %s", want, got)
		}
	}
	for _, f := range FieldPaths() {
		if f == "-" || strings.HasSuffix(f, ".-") || strings.HasSuffix(f, ".") {
			t.Errorf("FieldPaths lists %q, which is not a field of the file (Path and Warnings are yaml:\"-\")", f)
		}
	}
}

// TestReferenceDocumentsEveryField: docs/inventory.md names every field
// (a host's jumpHost has the fields of ssh.jumpHost, described once).
func TestReferenceDocumentsEveryField(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "inventory.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range FieldPaths() {
		name := strings.Replace(f, "hosts[].jumpHost.", "ssh.jumpHost.", 1)
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/inventory.md does not describe %s", f)
		}
	}
}
