package deploy

import (
	"context"
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
)

// etcdBackup is the masters' daily snapshot settings, from the
// inventory's backup.etcd.
func (d *Deployment) etcdBackup() snapshot.Settings {
	b := d.inv.Backup.Etcd
	s := snapshot.Settings{Keep: b.Keep}
	if b.To == inventory.BackupNFS && d.inv.Storage.NFS != nil {
		s.NFS = snapshot.NFSSource(d.inv.Storage.NFS.Server, d.inv.Storage.NFS.Path)
	} else {
		s.Dir = b.Dir
	}
	return s
}

// backupOp is deploy backup: a snapshot of the first master's etcd member
// now, copied into STATE/backups (steps.Site.Backup).
func (o *Ops) backupOp() op {
	d := o.d
	return op{name: "backup", title: "etcd backup", phases: []*plan.Phase{
		d.oneHost("/backup", "Snapshot etcd and copy it to the deploy node", d.masters[0], "etcdctl snapshot save, checked, copied", d.kubeadmSite().Backup),
	}}
}

// Backup runs deploy backup.
func (o *Ops) Backup(ctx context.Context, ro RunOptions) error { return o.run(ctx, o.backupOp(), ro) }

// DryRunBackup prints what deploy backup would run.
func (o *Ops) DryRunBackup(w io.Writer) error { return o.dryRun(w, o.backupOp()) }

// restoreOp is deploy restore SNAPSHOT: every master's etcd member
// restored from the snapshot, in four steps each done on every master
// before the next starts (steps.Restore): the snapshot uploaded, etcd and
// the apiserver stopped, the member's data restored (the old kept aside),
// both started again; then the cluster is waited for, every member healthy
// and the apiserver answering.
func (o *Ops) restoreOp(r *steps.Restore) op {
	d := o.d
	return op{name: "restore", title: "etcd restore of " + r.File + " (sha256 " + r.Token() + ")", phases: []*plan.Phase{plan.Steps("/restore", "Restore etcd on every master from "+r.File,
		d.eachHost("/restore/upload", "The snapshot on every master", d.masters, "Upload the snapshot (sha256-checked)", r.Upload),
		d.eachHost("/restore/stop", "etcd and the apiserver stopped on every master", d.masters, "Static pods etcd and kube-apiserver stopped", r.Stop),
		d.eachHost("/restore/data", "Each member's data restored from the snapshot", d.masters, "etcdutl snapshot restore", r.Data),
		d.eachHost("/restore/start", "etcd and the apiserver started again", d.masters, "Static pods back", r.Start),
		d.oneHost("/restore/healthy", "The restored cluster is healthy", d.masters[0], "Every member healthy, the apiserver answering", r.Healthy),
	)}}
}

// newRestore checks the snapshot and makes the restore of it onto the
// masters.
func (o *Ops) newRestore(file string) (*steps.Restore, error) {
	var members []snapshot.Member
	for _, m := range o.d.masters {
		members = append(members, snapshot.Member{Name: m.Name, Address: m.Address})
	}
	r, err := steps.NewRestore(file, members)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Restore runs deploy restore SNAPSHOT. A resume must name the same
// snapshot: its restore is another operation otherwise.
func (o *Ops) Restore(ctx context.Context, file string, ro RunOptions) error {
	r, err := o.newRestore(file)
	if err != nil {
		return err
	}
	if ro.Resume {
		if saved, err := o.dir("restore").ReadPlan(); err == nil && saved.Name != o.restoreOp(r).title {
			return fmt.Errorf("the restore in %s is of another snapshot (%s); resume it with that file, or start this one with --restart", o.dir("restore"), saved.Name)
		}
	}
	return o.run(ctx, o.restoreOp(r), ro)
}

// DryRunRestore prints what deploy restore SNAPSHOT would run.
func (o *Ops) DryRunRestore(w io.Writer, file string) error {
	r, err := o.newRestore(file)
	if err != nil {
		return err
	}
	return o.dryRun(w, o.restoreOp(r))
}
