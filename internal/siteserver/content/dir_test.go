package content

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// extractedBundle writes the least extracted bundle directory NewDir
// opens, with one yum repository, and returns its path.
func extractedBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"oci-layout":                     `{"imageLayoutVersion":"1.0.0"}`,
		IndexPath:                        `{"schemaVersion":2,"manifests":[]}`,
		"repos/base/repodata/repomd.xml": "<repomd>test</repomd>\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDirStaysInsideItsDirectory(t *testing.T) {
	dir := extractedBundle(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "repos", "base", "evil")); err != nil {
		t.Fatal(err)
	}
	dc, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	for _, p := range []string{"repos/base/evil", "../etc/passwd", "/etc/passwd", "repos/../../etc/passwd"} {
		if _, _, ok := dc.Stat(p); ok {
			t.Errorf("Stat(%q) found an entry outside the directory", p)
		}
		if _, err := dc.Open(context.Background(), p, 0, -1); err == nil {
			t.Errorf("Open(%q) opened an entry outside the directory", p)
		}
	}
}
