// Package snapshot is day two's etcd backup and restore on a kubeadm
// cluster with stacked etcd: the script that saves and checks a snapshot
// of a master's member and keeps the newest few (BackupScript), its daily
// timer (BackupServiceUnit, BackupTimerUnit), and the commands of a
// restore (StopCommand, RestoreCommand, StartCommand).
//
// The hosts carry no etcdctl: the script runs etcdctl and etcdutl from
// the etcd image kubeadm runs (registry.k8s.io/etcd carries both), with
// crictl exec into the running etcd for a snapshot, and with ctr run for a
// restore, when etcd is stopped. KubeKey's backup timer did nothing
// (kubekey #1400) and kept every backup (#2960): here each snapshot is
// checked with etcdutl snapshot status, and only the newest Keep stay.
package snapshot

import (
	"fmt"
	"net"
	"strings"

	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Defaults of the timer's snapshots.
const (
	// Dir is where the timer's snapshots go on each master (mode 0700),
	// unless the inventory's backup.etcd names another directory or the
	// site's NFS export.
	Dir = "/var/lib/appliance/etcd-backup"
	// NFSMount is where the backup script mounts the NFS export, for the
	// time of one snapshot; the snapshots go to NFSDir/HOST under it.
	NFSMount = "/run/appliance-etcd-backup-nfs"
	// NFSDir is the directory on the export that holds the masters'
	// snapshots, one directory per master.
	NFSDir = "etcd-backup"
	// Keep is how many snapshots the timer keeps per master.
	Keep = 7
)

// Files deploy installs on each master.
const (
	ScriptPath  = "/usr/local/sbin/appliance-etcd-backup"
	Unit        = "appliance-etcd-backup"
	ServicePath = "/etc/systemd/system/" + Unit + ".service"
	TimerPath   = "/etc/systemd/system/" + Unit + ".timer"
	// EnvPath holds the timer's settings (BACKUP_DIR, BACKUP_NFS,
	// BACKUP_KEEP); deploy writes it from the inventory (EnvFile).
	EnvPath = "/etc/appliance/etcd-backup.env"
)

// Where a restore works on each master.
const (
	// DataDir is etcd's data directory (kubeadm's default), mounted into
	// the etcd pod and into the restore's container.
	DataDir = "/var/lib/etcd"
	// UploadPath is where the snapshot to restore is put on each master.
	UploadPath = DataDir + "/appliance-restore.db"
	// restoredDir is where etcdutl writes the restored member.
	restoredDir = DataDir + "/appliance-restored"
	// AsideDir holds the etcd and apiserver manifests while a restore
	// has them stopped.
	AsideDir = "/etc/kubernetes/manifests.appliance-restore"
)

const (
	crictl   = "crictl --runtime-endpoint " + kubeadm.CRISocket
	manifest = "/etc/kubernetes/manifests"
	// etcdctlTLS are etcdctl's flags to reach the local member as kubeadm's
	// health check does (etcd has no auth: the CA's client certificates
	// may do anything).
	etcdctlTLS = "--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt " +
		"--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key"
)

// etcdID is a shell expression: the id of the running etcd container.
const etcdID = `$(` + crictl + ` ps -q --name '^etcd$' | awk 'NR == 1')`

// Settings are where the timer's snapshots go and how many stay: the
// inventory's backup.etcd.
type Settings struct {
	// Dir is the directory on each master ("": Dir). Not with NFS.
	Dir string
	// NFS is the export to keep them on instead, as mount(8) names it
	// (server:/path, [IPv6]:/path); "": a directory on each master.
	NFS string
	// Keep is how many each master keeps (0: Keep).
	Keep int
}

// NFSSource is the NFS export server:path as mount(8) takes it, the
// server's address bracketed when it is IPv6.
func NFSSource(server, path string) string {
	if strings.Contains(server, ":") {
		server = "[" + server + "]"
	}
	return server + ":" + path
}

// EnvFile is EnvPath for s: the backup script's settings, as systemd's
// EnvironmentFile reads them. The values come from the checked inventory
// (addresses and paths of letters, digits and . _ - ~ @ % + = : , /);
// they are quoted all the same.
func EnvFile(s Settings) string {
	var b strings.Builder
	b.WriteString("# Written by deploy from the inventory's backup.etcd; a rerun of deploy\n# writes it again.\n")
	switch {
	case s.NFS != "":
		fmt.Fprintf(&b, "BACKUP_NFS=%s\n", envQuote(s.NFS))
	case s.Dir != "":
		fmt.Fprintf(&b, "BACKUP_DIR=%s\n", envQuote(s.Dir))
	}
	if s.Keep > 0 {
		fmt.Fprintf(&b, "BACKUP_KEEP=%d\n", s.Keep)
	}
	return b.String()
}

// envQuote quotes v for an EnvironmentFile (double quotes, with \ and "
// escaped).
func envQuote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// BackupScript saves a snapshot of this master's etcd member into
// BACKUP_DIR (default Dir), or, when BACKUP_NFS names an NFS export, into
// NFSDir/HOST on it (mounted at BACKUP_NFS_MOUNT, default NFSMount, for
// the time of the snapshot, unless something is mounted there already), as
// etcd-HOST-TIME.db; checks it with etcdutl snapshot status, keeps the
// newest BACKUP_KEEP (default Keep), and prints "snapshot: PATH" last.
func BackupScript() string {
	return fmt.Sprintf(`#!/bin/bash
# Written by deploy: saves a snapshot of this master's etcd member, checks
# it, and keeps the newest few. BACKUP_DIR or BACKUP_NFS, and BACKUP_KEEP
# (in %[1]s) override the defaults.
set -eu
dir=${BACKUP_DIR:-%[2]s}
keep=${BACKUP_KEEP:-%[3]d}
nfs=${BACKUP_NFS:-}
if [ -n "$nfs" ]; then
  mnt=${BACKUP_NFS_MOUNT:-%[8]s}
  mkdir -p "$mnt"
  if ! mountpoint -q "$mnt"; then
    if ! mount -t nfs -o hard,nosuid,nodev,noexec "$nfs" "$mnt"; then
      echo "cannot mount the NFS export $nfs at $mnt: check storage.nfs in the inventory, that the server exports it to this master, and that nfs-utils is installed" >&2
      exit 1
    fi
    trap 'umount "$mnt" || echo "could not unmount $mnt" >&2' EXIT
  fi
  dir="$mnt/%[9]s/$(hostname)"
fi
id=%[4]s
if [ -z "$id" ]; then
  echo "no etcd container runs on this master" >&2
  exit 1
fi
part=%[5]s/appliance-snapshot.part
rm -f "$part"
%[6]s exec "$id" etcdctl %[7]s snapshot save "$part"
%[6]s exec "$id" etcdutl snapshot status "$part" -w table
mkdir -p "$dir"
chmod 700 "$dir"
name="$dir/etcd-$(hostname)-$(date -u +%%Y%%m%%dT%%H%%M%%SZ).db"
mv "$part" "$name.part"
chmod 600 "$name.part"
mv "$name.part" "$name"
ls -1t "$dir"/etcd-*.db | awk -v keep="$keep" 'NR > keep' | while read -r old; do
  rm -f "$old"
  echo "removed $old (keeping the newest $keep)"
done
echo "snapshot: $name"
`, EnvPath, Dir, Keep, etcdID, DataDir, crictl, etcdctlTLS, NFSMount, NFSDir)
}

// BackupServiceUnit runs BackupScript, with EnvPath's settings when the
// file is there.
func BackupServiceUnit() string {
	return fmt.Sprintf(`[Unit]
Description=Snapshot of this master's etcd member (written by deploy)
After=kubelet.service

[Service]
Type=oneshot
EnvironmentFile=-%s
ExecStart=%s
`, EnvPath, ScriptPath)
}

// BackupTimerUnit runs the service daily at 02:MM, MM = 10 × index
// (modulo 6), so two masters do not snapshot at once.
func BackupTimerUnit(index int) string {
	return fmt.Sprintf(`[Unit]
Description=Daily etcd snapshot (written by deploy)

[Timer]
OnCalendar=*-*-* 02:%02d:00
Persistent=true

[Install]
WantedBy=timers.target
`, 10*(index%6))
}

// SnapshotPath reads the path BackupScript printed.
func SnapshotPath(out string) (string, error) {
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(l), "snapshot: "); ok && strings.HasPrefix(p, "/") && !strings.ContainsAny(p, "'\"\\$`") {
			return p, nil
		}
	}
	return "", fmt.Errorf("the backup script did not print the snapshot's path")
}

// stopped is the static pods a restore stops: etcd, and the apiserver,
// which would otherwise serve and cache what the restore replaces.
var stopped = []string{"kube-apiserver", "etcd"}

// StopCommand moves the etcd and apiserver manifests aside and waits until
// their containers are gone. Idempotent: what is aside stays aside.
func StopCommand() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mkdir -p %s", AsideDir)
	for _, p := range stopped {
		fmt.Fprintf(&b, " && if [ -e %[1]s/%[2]s.yaml ]; then mv %[1]s/%[2]s.yaml %[3]s/; fi", manifest, p, AsideDir)
	}
	for _, p := range stopped {
		fmt.Fprintf(&b, ` && for i in $(seq 1 120); do if [ -z "$(%s ps -q --name '^%s$')" ]; then break; fi; sleep 1; done && [ -z "$(%s ps -q --name '^%s$')" ]`, crictl, p, crictl, p)
	}
	return b.String()
}

// Member is one etcd member of a restore: its node name and address.
type Member struct{ Name, Address string }

// peerURL is a member's peer URL, as kubeadm configures it.
func (m Member) peerURL() string { return "https://" + net.JoinHostPort(m.Address, "2380") }

// RestoreCommand restores the snapshot at UploadPath into member self's
// data directory, as one of members, once per token: the old member's data
// is kept at DataDir.before-restore-TOKEN, and a marker
// (DataDir/restored-TOKEN) makes a rerun a no-op. etcdutl runs from the
// etcd image (its name read from the aside manifest), in a container of
// its own (ctr run), as the hosts carry no etcdutl.
func RestoreCommand(self Member, members []Member, token string) string {
	var cluster []string
	for _, m := range members {
		cluster = append(cluster, m.Name+"="+m.peerURL())
	}
	marker := DataDir + "/restored-" + token
	image := fmt.Sprintf(`$(sed -n 's/^ *image: *//p' %s/etcd.yaml | awk 'NR == 1')`, AsideDir)
	return fmt.Sprintf(`if [ -e %[1]s ]; then echo "already restored from this snapshot"; exit 0; fi
set -e
image=%[2]s
if [ -z "$image" ]; then echo "no etcd image in %[3]s/etcd.yaml" >&2; exit 1; fi
rm -rf %[4]s
ctr --namespace k8s.io run --rm --mount type=bind,src=%[5]s,dst=%[5]s,options=rbind:rw "$image" appliance-etcd-restore-%[6]s `+
		`/usr/local/bin/etcdutl snapshot restore %[7]s --name %[8]s --initial-cluster %[9]s --initial-cluster-token appliance-%[6]s --initial-advertise-peer-urls %[10]s --data-dir %[4]s
if [ -d %[5]s/member ]; then rm -rf %[5]s.before-restore-%[6]s; mkdir -p %[5]s.before-restore-%[6]s; mv %[5]s/member %[5]s.before-restore-%[6]s/; fi
mv %[4]s/member %[5]s/member
rm -rf %[4]s %[7]s
touch %[1]s
echo "restored"`,
		marker, image, AsideDir, restoredDir, DataDir, token, UploadPath, sshx.Quote(self.Name), sshx.Quote(strings.Join(cluster, ",")), sshx.Quote(self.peerURL()))
}

// StartCommand moves the manifests back and waits until etcd runs again.
func StartCommand() string {
	var b strings.Builder
	b.WriteString("true")
	for _, p := range []string{"etcd", "kube-apiserver"} {
		fmt.Fprintf(&b, " && if [ -e %[1]s/%[2]s.yaml ]; then mv %[1]s/%[2]s.yaml %[3]s/; fi", AsideDir, p, manifest)
	}
	fmt.Fprintf(&b, ` && rmdir %s 2>/dev/null; for i in $(seq 1 300); do if [ -n "$(%s ps -q --name '^etcd$')" ]; then exit 0; fi; sleep 1; done; echo "etcd did not start within 300s; see journalctl -u kubelet" >&2; exit 1`, AsideDir, crictl)
	return b.String()
}

// HealthCommand asks the local etcd for its members and their health.
func HealthCommand() string {
	return fmt.Sprintf(`id=%s; if [ -z "$id" ]; then echo "no etcd container runs" >&2; exit 1; fi; `+
		`%s exec "$id" etcdctl %s member list -w simple && %s exec "$id" etcdctl %s endpoint health --cluster`,
		etcdID, crictl, etcdctlTLS, crictl, etcdctlTLS)
}
