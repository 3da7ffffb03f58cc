// Package state owns the deployment's state directory: its layout (which
// file holds what), plan.json, the secret files deploy makes there, the
// cluster-admin kubeconfig, Harbor's record, and the one way a file in it
// is replaced atomically (WriteFile).
//
// The directory may come from anyone (an operator copies it between
// machines), so every reader here bounds what it reads and names the file
// and the way out in its errors.
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/factory-appliance/appliance/internal/atomicfile"
	"github.com/factory-appliance/appliance/internal/plan"
)

// Files in the state directory, beside the journal (plan.JournalFile), the
// host logs (plan.LogsDir) and the site CA (internal/siteca).
const (
	// PlanFile records the phase tree of the deployment and the bundle it
	// deploys (SavedPlan).
	PlanFile = "plan.json"
	// KubeconfigFile is the cluster-admin kubeconfig (mode 0600), copied
	// from the first master.
	KubeconfigFile = "admin.conf"
	// HarborRecordFile is what /harbor/load recorded (HarborRecord).
	HarborRecordFile = "harbor.json"
	// HarborAdminPasswordFile and HarborDBPasswordFile hold Harbor's
	// secrets (mode 0600).
	HarborAdminPasswordFile = "harbor-admin-password"
	HarborDBPasswordFile    = "harbor-db-password"
	// VRRPPasswordFile (mode 0600) holds the site's VRRP password: made
	// once, at random, on the first /ha run.
	VRRPPasswordFile = "vrrp-password"
	// SeedLogFile is the site server's request log, in the logs directory.
	SeedLogFile = "seed.log"
)

// Dir is a state directory.
type Dir string

// Path is the file name in the state directory.
func (d Dir) Path(name string) string { return filepath.Join(string(d), name) }

// KubeconfigPath is the cluster-admin kubeconfig in the state directory.
func (d Dir) KubeconfigPath() string { return d.Path(KubeconfigFile) }

// Kubeconfig returns the absolute path of the cluster-admin kubeconfig, or
// an error saying why there is none yet.
func (d Dir) Kubeconfig() (string, error) {
	p, err := filepath.Abs(d.KubeconfigPath())
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no cluster kubeconfig in %s (%w): the /kubernetes phases write it once kubeadm init has run; see deploy plan --state-dir %s", string(d), errors.Unwrap(err), string(d))
	}
	return p, nil
}

// WriteKubeconfig replaces the cluster-admin kubeconfig with b (mode
// 0600), atomically.
func (d Dir) WriteKubeconfig(b []byte) error {
	return WriteFile(d.KubeconfigPath(), b, 0o600)
}

// OpenLog opens name in the logs directory (plan.LogsDir) for appending,
// creating the directory (mode 0700) and the file (mode 0600).
func (d Dir) OpenLog(name string) (*os.File, error) {
	dir := d.Path(plan.LogsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// WriteFile replaces file with data (mode perm) atomically: it writes a
// temporary file beside it, syncs it and renames it over file
// (internal/atomicfile), so a reader sees the old content or the new, never
// part of it. It is the one atomic write of the state directory.
func WriteFile(file string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(file, data, perm)
}
