package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecret: a secret is made once (mode 0600, exclusively), read back
// after, and never made by a dry run.
func TestSecret(t *testing.T) {
	d := Dir(t.TempDir())
	calls := 0
	gen := func() (string, error) { calls++; return "s3cret", nil }
	if s, made, err := d.Secret("pw", gen, true); err != nil || made || s != "<pw>" {
		t.Fatalf("dry run: %q %v %v", s, made, err)
	}
	if _, err := os.Stat(d.Path("pw")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dry run made the file: %v", err)
	}
	s, made, err := d.Secret("pw", gen, false)
	if err != nil || !made || s != "s3cret" {
		t.Fatalf("first: %q %v %v", s, made, err)
	}
	fi, err := os.Stat(d.Path("pw"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file %v %v", fi, err)
	}
	if s, made, err := d.Secret("pw", gen, false); err != nil || made || s != "s3cret" || calls != 1 {
		t.Errorf("second: %q %v %v (%d calls)", s, made, err, calls)
	}
}

// TestWriteFile: the file is replaced whole and no temporary file stays.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "plan.json")
	for _, content := range []string{"old", "new"} {
		if err := WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(f); err != nil || string(b) != "new" {
		t.Errorf("read %q, %v", b, err)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("files left: %v", names)
	}
}

// TestKubeconfigMissing: the error says which phase writes it.
func TestKubeconfigMissing(t *testing.T) {
	_, err := Dir(t.TempDir()).Kubeconfig()
	if err == nil || !strings.Contains(err.Error(), "kubeadm init") || !strings.Contains(err.Error(), "deploy plan --state-dir") {
		t.Errorf("no kubeconfig: %v", err)
	}
}
