package outfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitFile: each Write lands whole in one part, a new part starting
// when it would not fit the current one; Commit names the parts.
func TestSplitFile(t *testing.T) {
	final := filepath.Join(t.TempDir(), "out", "b.bundle")
	f, err := Create(final, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, piece := range []string{"aaaa", "bbbb", "cccc", "dddddddddd", "e"} {
		if _, err := f.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Write([]byte("more than ten")); err == nil || !strings.Contains(err.Error(), "split at a larger size") {
		t.Errorf("a piece larger than a part: %v", err)
	}
	if f.Size() != 23 || !f.Split() || len(f.Parts()) != 4 {
		t.Fatalf("size %d, split %v, %d parts; want 23 bytes in 4 parts", f.Size(), f.Split(), len(f.Parts()))
	}
	names, err := f.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if f.Parts() != nil {
		t.Errorf("parts after the commit: %v", f.Parts())
	}
	var got []string
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(n)+"="+string(data))
	}
	if s := strings.Join(got, " "); s != "b.bundle.001=aaaabbbb b.bundle.002=cccc b.bundle.003=dddddddddd b.bundle.004=e" {
		t.Errorf("committed %s", s)
	}
	if left := tempFiles(t, filepath.Dir(final)); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestRemove: a file that is not committed leaves nothing behind.
func TestRemove(t *testing.T) {
	final := filepath.Join(t.TempDir(), "b.bundle")
	f, err := Create(final, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if f.Split() || len(f.Parts()) != 1 || filepath.Dir(f.Parts()[0].Name()) != filepath.Dir(final) {
		t.Fatalf("parts %v, want one temporary file next to %s", f.Parts(), final)
	}
	f.Remove()
	if f.Parts() != nil {
		t.Errorf("parts after Remove: %v", f.Parts())
	}
	if left, _ := os.ReadDir(filepath.Dir(final)); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
