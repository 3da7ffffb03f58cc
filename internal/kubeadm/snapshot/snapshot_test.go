package snapshot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/el7"
)

var members = []Member{{"master-1", "10.9.0.11"}, {"master-2", "10.9.0.12"}, {"master-3", "10.9.0.13"}}

// TestCommandsRunOnEL7: the backup script, its units and the restore's
// commands use only what CentOS 7.9 and the bundle's packages have.
func TestCommandsRunOnEL7(t *testing.T) {
	for _, cmd := range []string{BackupScript(), StopCommand(), RestoreCommand(members[1], members, "0123456789abcdef"), StartCommand(), HealthCommand()} {
		for _, p := range el7.Check(cmd) {
			t.Errorf("%v", p)
		}
	}
	for name, u := range map[string]string{"service": BackupServiceUnit(), "timer": BackupTimerUnit(2)} {
		for _, p := range el7.CheckUnit(Unit+"."+name, u) {
			t.Errorf("%v", p)
		}
	}
}

// TestRestoreCommand: each member is restored under its own name and peer
// URL into a cluster of every master, once per snapshot.
func TestRestoreCommand(t *testing.T) {
	cmd := RestoreCommand(members[1], members, "0123456789abcdef")
	for _, want := range []string{
		"--name 'master-2'",
		"--initial-cluster 'master-1=https://10.9.0.11:2380,master-2=https://10.9.0.12:2380,master-3=https://10.9.0.13:2380'",
		"--initial-advertise-peer-urls 'https://10.9.0.12:2380'",
		"--initial-cluster-token appliance-0123456789abcdef",
		"if [ -e /var/lib/etcd/restored-0123456789abcdef ]; then",
		"mv /var/lib/etcd/member /var/lib/etcd.before-restore-0123456789abcdef/",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the restore lacks %q:\n%s", want, cmd)
		}
	}
	if !strings.Contains(RestoreCommand(Member{"m'1", "fd00::1"}, []Member{{"m'1", "fd00::1"}}, "x"), "https://[fd00::1]:2380") {
		t.Error("an IPv6 peer URL is not bracketed")
	}
}

// TestBackupScriptKeeps runs the backup script with bash against a crictl
// that "saves" a snapshot: the snapshot lands in BACKUP_DIR under its
// name, is printed last, and only the newest BACKUP_KEEP stay.
func TestBackupScriptKeeps(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, script := range []string{BackupScript(), StopCommand(), RestoreCommand(members[0], members, "t"), StartCommand(), HealthCommand()} {
		if out, err := exec.Command(bash, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("bash -n: %v\n%s\n%s", err, out, script)
		}
	}
	if _, err := os.Stat(DataDir); err == nil {
		t.Skipf("%s exists on this machine", DataDir)
	}
	bin, dest := t.TempDir(), t.TempDir()
	// The script saves to DataDir, which this machine lacks: the stub
	// crictl saves into a directory the test owns, and mv finds it there
	// through a stub mv that maps the path.
	data := t.TempDir()
	stub := `#!/bin/bash
case " $* " in
  *" ps "*) echo abc123 ;;
  *" snapshot save "*) for a; do last=$a; done; echo snapshot >"` + data + `/$(basename "$last")" ;;
  *" snapshot status "*) echo "| HASH | REVISION |" ;;
esac
`
	mv := `#!/bin/bash
args=()
for a; do case $a in ` + DataDir + `/*) args+=("` + data + `${a#` + DataDir + `}") ;; *) args+=("$a") ;; esac; done
exec /bin/mv "${args[@]}"
`
	for name, body := range map[string]string{"crictl": stub, "mv": mv} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		old := filepath.Join(dest, "etcd-old-2020010"+string(rune('1'+i))+"T000000Z.db")
		if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		past := int64(1577836800 + i*86400)
		_ = os.Chtimes(old, time.Unix(past, 0), time.Unix(past, 0))
	}
	cmd := exec.Command(bash, "-c", BackupScript())
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "BACKUP_DIR="+dest, "BACKUP_KEEP=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p, err := SnapshotPath(string(out))
	if err != nil || filepath.Dir(p) != dest || !strings.HasPrefix(filepath.Base(p), "etcd-") {
		t.Fatalf("SnapshotPath = %q, %v\n%s", p, err, out)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "snapshot\n" {
		t.Errorf("the snapshot: %q %v", b, err)
	}
	ents, _ := os.ReadDir(dest)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), "etcd-old-20200103T000000Z.db") {
		t.Errorf("kept %v, want the new snapshot and the newest old one", names)
	}
}

// backupStubs writes the stub crictl (it "saves" a snapshot into data and
// logs its calls) and mv (it maps DataDir to data) of TestBackupScriptKeeps
// into bin, and stubs of mount, mountpoint and umount that log their
// arguments; mount fails with status mountStatus, mountpoint answers
// mounted.
func backupStubs(t *testing.T, bin, data, log string, mountStatus int, mounted bool) {
	t.Helper()
	mp := "1"
	if mounted {
		mp = "0"
	}
	stubs := map[string]string{
		"crictl": `#!/bin/bash
echo "crictl $*" >>` + log + `
case " $* " in
  *" ps "*) echo abc123 ;;
  *" snapshot save "*) for a; do last=$a; done; echo snapshot >"` + data + `/$(basename "$last")" ;;
  *" snapshot status "*) echo "| HASH | REVISION |" ;;
esac
`,
		"mv": `#!/bin/bash
args=()
for a; do case $a in ` + DataDir + `/*) args+=("` + data + `${a#` + DataDir + `}") ;; *) args+=("$a") ;; esac; done
exec /bin/mv "${args[@]}"
`,
		"mount":      "#!/bin/bash\necho \"mount $*\" >>" + log + "\nexit " + fmt.Sprint(mountStatus) + "\n",
		"mountpoint": "#!/bin/bash\necho \"mountpoint $*\" >>" + log + "\nexit " + mp + "\n",
		"umount":     "#!/bin/bash\necho \"umount $*\" >>" + log + "\n",
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackupScriptNFS runs the backup script with BACKUP_NFS against stub
// mount tools (this machine's kernel has no NFS client): the export is
// mounted, the snapshot lands in etcd-backup/HOST on it, and the export is
// unmounted after; one mounted already is used and left mounted; a mount
// that fails stops the script before any snapshot, with a message that
// names the export and what to check.
func TestBackupScriptNFS(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if _, err := os.Stat(DataDir); err == nil {
		t.Skipf("%s exists on this machine", DataDir)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	run := func(mountStatus int, mounted bool) (out, log, mnt string, err error) {
		bin, data, mnt := t.TempDir(), t.TempDir(), t.TempDir()
		logf := filepath.Join(t.TempDir(), "log")
		backupStubs(t, bin, data, logf, mountStatus, mounted)
		cmd := exec.Command(bash, "-c", BackupScript())
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "BACKUP_NFS=10.9.0.40:/export", "BACKUP_NFS_MOUNT="+mnt, "BACKUP_KEEP=3")
		b, err := cmd.CombinedOutput()
		l, _ := os.ReadFile(logf)
		return string(b), string(l), mnt, err
	}

	out, log, mnt, err := run(0, false)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(log, "mount -t nfs -o hard,nosuid,nodev,noexec 10.9.0.40:/export "+mnt+"\n") {
		t.Errorf("the export was not mounted at %s:\n%s", mnt, log)
	}
	if !strings.HasSuffix(log, "umount "+mnt+"\n") {
		t.Errorf("the export was not unmounted last:\n%s", log)
	}
	p, err := SnapshotPath(out)
	if want := filepath.Join(mnt, NFSDir, host); err != nil || filepath.Dir(p) != want {
		t.Fatalf("SnapshotPath = %q, %v; want a snapshot in %s\n%s", p, err, want, out)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "snapshot\n" {
		t.Errorf("the snapshot: %q %v", b, err)
	}

	out, log, _, err = run(0, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(log, "mount -t") || strings.Contains(log, "umount") {
		t.Errorf("an export mounted already was mounted again or unmounted:\n%s", log)
	}

	out, log, _, err = run(32, false)
	if err == nil {
		t.Fatalf("a failed mount did not fail the backup:\n%s", out)
	}
	if !strings.Contains(out, "cannot mount the NFS export 10.9.0.40:/export") || !strings.Contains(out, "storage.nfs") {
		t.Errorf("the error does not name the export and what to check:\n%s", out)
	}
	if strings.Contains(log, "snapshot save") || strings.Contains(log, "umount") {
		t.Errorf("after a failed mount the script went on:\n%s", log)
	}
}

// TestEnvFile: the inventory's settings as the backup script reads them.
func TestEnvFile(t *testing.T) {
	for _, c := range []struct {
		s    Settings
		want []string
		not  []string
	}{
		{Settings{}, nil, []string{"BACKUP_"}},
		{Settings{Dir: "/srv/etcd-backup", Keep: 14}, []string{"BACKUP_DIR=\"/srv/etcd-backup\"\n", "BACKUP_KEEP=14\n"}, []string{"BACKUP_NFS"}},
		{Settings{NFS: NFSSource("fd00::40", "/export"), Keep: 3}, []string{"BACKUP_NFS=\"[fd00::40]:/export\"\n", "BACKUP_KEEP=3\n"}, []string{"BACKUP_DIR"}},
	} {
		got := EnvFile(c.s)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("EnvFile(%+v) lacks %q:\n%s", c.s, w, got)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("EnvFile(%+v) has %q:\n%s", c.s, n, got)
			}
		}
	}
	if got := NFSSource("nfs.factory.local", "/export"); got != "nfs.factory.local:/export" {
		t.Errorf("NFSSource = %q", got)
	}
}
