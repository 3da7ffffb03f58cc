package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	cases := []struct {
		name string
		old  string // existing content, "" for none
		data string
		perm os.FileMode
	}{
		{"new file", "", "hello\n", 0o644},
		{"replaces", "old content that is longer\n", "new\n", 0o600},
		{"empty", "x", "", 0o640},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if c.old != "" {
				if err := os.WriteFile(p, []byte(c.old), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, []byte(c.data), c.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != c.data {
				t.Fatalf("read %q, %v; want %q", got, err, c.data)
			}
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != c.perm {
				t.Errorf("mode %v, %v; want %v", fi.Mode().Perm(), err, c.perm)
			}
			assertOnly(t, dir, "f")
		})
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("source broke")
	}
	r.n--
	return copy(p, "partial"), nil
}

func TestWriteFromFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFrom(p, &failingReader{n: 2}, 0o644)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "source broke") {
		t.Fatalf("err = %v, want the path and the cause", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("file now %q, want the old content", got)
	}
	assertOnly(t, dir, "f")
}

func TestWriteMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "f")
	if err := Write(p, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want an error naming %s", err, p)
	}
}

// assertOnly fails unless dir holds exactly the named files (no temporary
// file left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}
