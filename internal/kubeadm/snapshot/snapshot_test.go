package snapshot

import (
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
