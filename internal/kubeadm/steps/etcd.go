package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Upkeep returns the step that installs a master's upkeep (index: its
// place among the masters): the certificate renewal and its daily timer
// (certs), and the daily etcd snapshot, its settings (backup) and its
// timer (snapshot). Idempotent.
func Upkeep(index int, backup snapshot.Settings) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		if err := installRenewal(ctx, h); err != nil {
			return err
		}
		if _, err := h.Install(ctx, snapshot.ScriptPath, []byte(snapshot.BackupScript()), 0o755, ""); err != nil {
			return err
		}
		if _, err := h.Install(ctx, snapshot.EnvPath, []byte(snapshot.EnvFile(backup)), 0o644, ""); err != nil {
			return err
		}
		for _, t := range []struct {
			unit, servicePath, service, timerPath, timer string
		}{
			{certs.Unit, certs.ServicePath, certs.ServiceUnit(), certs.TimerPath, certs.TimerUnit(index)},
			{snapshot.Unit, snapshot.ServicePath, snapshot.BackupServiceUnit(), snapshot.TimerPath, snapshot.BackupTimerUnit(index)},
		} {
			svc, err := h.Install(ctx, t.servicePath, []byte(t.service), 0o644, "")
			if err != nil {
				return err
			}
			timer, err := h.Install(ctx, t.timerPath, []byte(t.timer), 0o644, "")
			if err != nil {
				return err
			}
			if err := h.Sh(ctx, "systemctl daemon-reload"); err != nil {
				return err
			}
			if err := h.Service(ctx, t.unit+".timer", svc || timer); err != nil {
				return err
			}
		}
		return nil
	}
}

// BackupsDir is where deploy backup puts snapshots in the state
// directory.
const BackupsDir = "backups"

// snapshotName is a name the backup script gives a snapshot.
var snapshotName = regexp.MustCompile(`^etcd-[A-Za-z0-9.-]{1,253}-[0-9]{8}T[0-9]{6}Z\.db$`)

// Backup takes a snapshot of h's etcd member now (the backup script, which
// also keeps the newest on the master) and copies it into the state
// directory's BackupsDir, checked against the master's sha256.
func (s *Site) Backup(ctx context.Context, h *remote.Host) error {
	if _, err := h.Install(ctx, snapshot.ScriptPath, []byte(snapshot.BackupScript()), 0o755, ""); err != nil {
		return err
	}
	out, err := h.Out(ctx, snapshot.ScriptPath)
	if err != nil {
		return fmt.Errorf("the etcd snapshot on %s: %w; the script's output is in the host log", h.Host.Name, err)
	}
	plan.Logf(ctx, "%s", out)
	if h.Dry {
		_, err := h.Out(ctx, "# copied to "+filepath.Join(string(s.State), BackupsDir)+" on the deploy node, sha256-checked")
		return err
	}
	remotePath, err := snapshot.SnapshotPath(out)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Host.Name, err)
	}
	name := path.Base(remotePath)
	if !snapshotName.MatchString(name) {
		return fmt.Errorf("the snapshot on %s has an unexpected name %q", h.Host.Name, name)
	}
	sum, err := h.Out(ctx, "sha256sum "+sshx.Quote(remotePath))
	if err != nil {
		return err
	}
	dl, ok := h.Runner.(interface {
		Download(ctx context.Context, remotePath string, w io.Writer) (string, error)
	})
	if !ok {
		return fmt.Errorf("cannot copy files from %s", h.Host.Name)
	}
	dir := s.State.Path(BackupsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	got, err := dl.Download(ctx, remotePath, f)
	if cerr := f.Sync(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if want, _, _ := strings.Cut(sum, " "); want != got {
		return fmt.Errorf("the copy of %s from %s has sha256 %s, the master's %s: copy it again", remotePath, h.Host.Name, got, want)
	}
	if err := os.Chmod(f.Name(), 0o600); err != nil {
		return err
	}
	local := filepath.Join(dir, name)
	if err := os.Rename(f.Name(), local); err != nil {
		return err
	}
	plan.Logf(ctx, "the snapshot is %s (sha256 %s); restore it with deploy restore %s", local, got, local)
	return nil
}

// Restore is a restore of one snapshot on every master: the local
// snapshot file, its sha256 (the token of the restore) and the members.
type Restore struct {
	File    string
	Sum     string
	Members []snapshot.Member
}

// NewRestore checks the snapshot file and makes the restore of it onto
// members.
func NewRestore(file string, members []snapshot.Member) (*Restore, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("the snapshot to restore: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return &Restore{File: file, Sum: hex.EncodeToString(h.Sum(nil)), Members: members}, nil
}

// Token names the restore on the hosts: the snapshot's sha256, shortened.
func (r *Restore) Token() string { return r.Sum[:16] }

// Upload puts the snapshot on a master (UploadPath, sha256-checked),
// unless it was restored there already.
func (r *Restore) Upload(ctx context.Context, h *remote.Host) error {
	done, err := h.Out(ctx, "if [ -e "+snapshot.DataDir+"/restored-"+r.Token()+" ]; then echo restored; fi")
	if err != nil || done == "restored" {
		return err
	}
	if err := h.Sh(ctx, "mkdir -p "+snapshot.DataDir+" && chmod 700 "+snapshot.DataDir); err != nil {
		return err
	}
	f, err := os.Open(r.File)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(plan.LogWriter(ctx), "upload %s to %s (%d bytes)\n", r.File, snapshot.UploadPath, st.Size())
	return h.Upload(ctx, f, st.Size(), snapshot.UploadPath, 0o600)
}

// Stop stops etcd and the apiserver on a master (snapshot.StopCommand).
func (r *Restore) Stop(ctx context.Context, h *remote.Host) error {
	if err := h.Sh(ctx, snapshot.StopCommand()); err != nil {
		return fmt.Errorf("stopping etcd and the apiserver on %s: %w", h.Host.Name, err)
	}
	return nil
}

// Data restores the member's data from the snapshot
// (snapshot.RestoreCommand).
func (r *Restore) Data(ctx context.Context, h *remote.Host) error {
	self := snapshot.Member{Name: h.Host.Name, Address: h.Host.Address}
	if err := h.Sh(ctx, snapshot.RestoreCommand(self, r.Members, r.Token())); err != nil {
		return fmt.Errorf("restoring etcd's data on %s: %w; its output is in the host log", h.Host.Name, err)
	}
	return nil
}

// Start starts etcd and the apiserver on a master again.
func (r *Restore) Start(ctx context.Context, h *remote.Host) error {
	if err := h.Sh(ctx, snapshot.StartCommand()); err != nil {
		return fmt.Errorf("starting etcd and the apiserver on %s: %w", h.Host.Name, err)
	}
	return nil
}

// healthTimeout bounds the wait for the restored cluster.
const healthTimeout = 5 * time.Minute

// Healthy waits until etcd lists every member and each is healthy, and
// the apiserver answers.
func (r *Restore) Healthy(ctx context.Context, h *remote.Host) error {
	cmd := snapshot.HealthCommand() + " && " + kubectl + "get nodes"
	if h.Dry {
		return h.Sh(ctx, cmd)
	}
	deadline := time.Now().Add(healthTimeout)
	for {
		out, err := h.Out(ctx, cmd)
		if err == nil && strings.Count(out, "is healthy") == len(r.Members) {
			plan.Logf(ctx, "%s", out)
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%d of %d members healthy", strings.Count(out, "is healthy"), len(r.Members))
			}
			return fmt.Errorf("the restored cluster on %s after %s: %w", h.Host.Name, healthTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}
