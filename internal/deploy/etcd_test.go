package deploy

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/plan"
)

// TestRestorePlan: deploy restore does each step on every master before
// the next starts (no master starts etcd while another still runs the old
// data), names the snapshot by its sha256, and refuses a snapshot that is
// not there; deploy backup's dry run shows the copy to the deploy node.
func TestRestorePlan(t *testing.T) {
	s := newTestSite(t, nil)
	dir := t.TempDir()
	writeFile(t, state.Dir(dir).KubeconfigPath(), []byte("apiVersion: v1\nkind: Config\n"))
	o, err := OpenOps(s.config(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	snap := filepath.Join(t.TempDir(), "etcd-master-1-20270101T020000Z.db")
	writeFile(t, snap, []byte("a snapshot"))
	r, err := o.newRestore(snap)
	if err != nil {
		t.Fatal(err)
	}
	x := o.restoreOp(r)
	p, err := plan.New(x.phases...)
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Join(p.Dependencies("/restore/data/master-1"), " ")
	for _, want := range []string{"/restore/stop/master-1", "/restore/stop/master-2"} {
		if !strings.Contains(deps, want) {
			t.Errorf("/restore/data/master-1 does not wait for %s (deps %s)", want, deps)
		}
	}
	if !strings.Contains(x.title, r.Token()) || len(r.Token()) != 16 {
		t.Errorf("the restore's title %q does not name the snapshot's sha256", x.title)
	}
	var out bytes.Buffer
	if err := o.DryRunRestore(&out, snap); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/restore/upload/master-2", snapshot.UploadPath, "etcdutl snapshot restore", "--name 'master-2'", "/restore/healthy/master-1", "endpoint health --cluster"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the restore's dry run lacks %q", want)
		}
	}
	if err := o.DryRunRestore(&out, snap+".missing"); err == nil || !strings.Contains(err.Error(), "snapshot to restore") {
		t.Errorf("a missing snapshot: %v", err)
	}
	out.Reset()
	if err := o.DryRunBackup(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/backup/master-1", snapshot.ScriptPath, "copied to " + filepath.Join(dir, "backups")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the backup's dry run lacks %q:\n%s", want, out.String())
		}
	}
}

// TestEtcdBackupSettings: the inventory's backup.etcd as the masters' timer
// gets it; to: nfs mounts storage.nfs's export (an IPv6 server bracketed).
func TestEtcdBackupSettings(t *testing.T) {
	nfs := &inventory.NFS{Server: "fd00::40", Path: "/export"}
	for _, c := range []struct {
		inv  inventory.Inventory
		want snapshot.Settings
	}{
		{inventory.Inventory{}, snapshot.Settings{}},
		{inventory.Inventory{Backup: inventory.Backup{Etcd: inventory.EtcdBackup{Dir: "/srv/etcd", Keep: 3}}}, snapshot.Settings{Dir: "/srv/etcd", Keep: 3}},
		{inventory.Inventory{Storage: inventory.Storage{NFS: nfs}, Backup: inventory.Backup{Etcd: inventory.EtcdBackup{To: inventory.BackupNFS, Keep: 14}}},
			snapshot.Settings{NFS: "[fd00::40]:/export", Keep: 14}},
		{inventory.Inventory{Storage: inventory.Storage{NFS: nfs}}, snapshot.Settings{}},
	} {
		inv := c.inv
		if got := (&Deployment{inv: &inv}).etcdBackup(); got != c.want {
			t.Errorf("backup %+v, storage %+v: settings %+v, want %+v", inv.Backup, inv.Storage, got, c.want)
		}
	}
}
