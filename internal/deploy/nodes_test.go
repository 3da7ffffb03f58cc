package deploy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
)

// TestAddNodePlan: deploy add-node checks the cluster's version first,
// prepares only the new node (but rewrites every host's /etc/hosts), and
// joins it; a name not in the inventory, the first master, and a bundle
// without Kubernetes are refused naming the fix.
func TestAddNodePlan(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	if _, err := d.addNodeOp("worker-1"); err == nil || !strings.Contains(err.Error(), "carries no Kubernetes") {
		t.Errorf("a bundle without Kubernetes: %v", err)
	}
	d.k8sVersion = "v1.26.15"
	for name, want := range map[string]string{"worker-9": "add it there", "master-1": "first master"} {
		if _, err := d.addNodeOp(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("add-node %s: %v, want %q", name, err, want)
		}
	}
	x, err := d.addNodeOp("master-2")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(x.phases...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range p.Leaves() {
		ids = append(ids, l.ID)
	}
	got := strings.Join(ids, " ")
	for _, want := range []string{"/add-node/version/master-1 /add-node/preflight/master-2 ", "/add-node/system/master-1 /add-node/system/master-2 /add-node/system/worker-1",
		"/add-node/ha/master-1 /add-node/ha/master-2 /add-node/join/master-2", "/add-node/upkeep/master-2 /add-node/ready/master-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("leaves %s\nlack %s", got, want)
		}
	}
	if strings.Contains(got, "/add-node/preflight/worker-1") || strings.Contains(got, "/add-node/packages/master-1") {
		t.Errorf("add-node prepares hosts already in the cluster: %s", got)
	}
	var out bytes.Buffer
	if err := d.DryRunAddNode(&out, "master-2"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubeadm join", "kubeletVersion", "upload-certs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("add-node's dry run lacks %q", want)
		}
	}
}

// TestRemoveNodePlan: deploy remove-node checks first, drains, removes a
// master's etcd member before the Node, rewrites haproxy and keepalived on
// the masters that stay, and resets the host last; --drain=false and
// --no-reset leave those out.
func TestRemoveNodePlan(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	dir := t.TempDir()
	writeFile(t, dir+"/admin.conf", []byte("apiVersion: v1\nkind: Config\n"))
	o, err := OpenOps(s.config(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	gone := inventory.Host{Name: "master-3", Address: "10.9.0.13", Roles: []inventory.Role{inventory.RoleMaster}}
	p, err := plan.New(o.removeNodeOp(gone, RemoveOptions{Master: true}).phases...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range p.Leaves() {
		ids = append(ids, l.ID)
	}
	want := "/remove-node/check/master-1 /remove-node/drain/master-1 /remove-node/etcd/master-1 /remove-node/delete/master-1 " +
		"/remove-node/ha/master-1 /remove-node/ha/master-2 /remove-node/system/master-1 /remove-node/system/master-2 /remove-node/system/worker-1 /remove-node/reset/master-3"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("leaves %s\nwant  %s", got, want)
	}
	p, err = plan.New(o.removeNodeOp(inventory.Host{Name: "worker-2", Address: "10.9.0.22"}, RemoveOptions{NoDrain: true, NoReset: true}).phases...)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Leaves() {
		if strings.Contains(l.ID, "drain") || strings.Contains(l.ID, "reset") || strings.Contains(l.ID, "etcd") || strings.Contains(l.ID, "/ha/") {
			t.Errorf("a worker removed without drain or reset has %s", l.ID)
		}
	}
	if _, err := o.removedNode(t.Context(), "worker-1", &RemoveOptions{}); err == nil || !strings.Contains(err.Error(), "still in inventory") {
		t.Errorf("removing a node still in the inventory: %v", err)
	}
}
