package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/factory-appliance/appliance/manifest"
)

func TestPackageIsReproducible(t *testing.T) {
	first := packageDir(t, "testdata")
	// A copy with other modification times and modes gives the same bytes.
	copyDir := t.TempDir()
	copyTree(t, "testdata/factory-app", filepath.Join(copyDir, "factory-app"))
	later := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	filepath.Walk(copyDir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, later, later) })
	os.Chmod(filepath.Join(copyDir, "factory-app", "values.yaml"), 0o600)
	second := packageDir(t, copyDir)
	if !bytes.Equal(first, second) {
		t.Fatalf("packaging the same chart twice gave different bytes (%d and %d bytes)", len(first), len(second))
	}
	if again := packageDir(t, "testdata"); !bytes.Equal(first, again) {
		t.Fatal("packaging the same directory twice gave different bytes")
	}
}

func packageDir(t *testing.T, root string) []byte {
	t.Helper()
	var buf bytes.Buffer
	meta, err := Package(os.DirFS(root), "factory-app", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if meta != (ChartMeta{Name: "factory-app", Version: "0.1.0"}) {
		t.Fatalf("Package returned %+v", meta)
	}
	return buf.Bytes()
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(to, strings.TrimPrefix(p, from))
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPackageLayout(t *testing.T) {
	data := packageDir(t, "testdata")
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" {
		t.Errorf("gzip header carries time %v, name %q, comment %q; want none", zr.ModTime, zr.Name, zr.Comment)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Typeflag != tar.TypeReg || h.Mode != 0o644 || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: type %c mode %o uid %d gid %d user %q group %q mtime %v; want a regular file, 0644, root, epoch",
				h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
	}
	want := []string{
		"factory-app/.helmignore", "factory-app/Chart.yaml", "factory-app/templates/NOTES.txt",
		"factory-app/templates/_helpers.tpl", "factory-app/templates/cronjob.yaml",
		"factory-app/templates/deployment.yaml", "factory-app/values.yaml",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant (sorted, .helmignore applied):\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("helm's loader refuses the package: %v", err)
	}
	if ch.Name() != "factory-app" || len(ch.Templates) != 4 {
		t.Errorf("loaded chart %s with %d templates, want factory-app with 4", ch.Name(), len(ch.Templates))
	}
}

func TestPackageRefuses(t *testing.T) {
	good := chartFS("c", "1.0.0", "busybox:1.36")
	withDep := chartFS("c", "1.0.0", "busybox:1.36")
	withDep["c/Chart.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 17.0.0\n    repository: https://charts.example.com\n")}
	vendored := chartFS("c", "1.0.0", "busybox:1.36")
	vendored["c/Chart.yaml"] = withDep["c/Chart.yaml"]
	vendored["c/charts/redis-17.0.0.tgz"] = &fstest.MapFile{Data: packageBytes(t, chartFS("redis", "17.0.0", "redis:7"), "redis")}
	link := chartFS("c", "1.0.0", "busybox:1.36")
	link["c/templates/link.yaml"] = &fstest.MapFile{Data: []byte("pod.yaml"), Mode: os.ModeSymlink}
	badName := chartFS("c", "1.0.0", "busybox:1.36")
	badName["c/Chart.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v2\nname: c\n")}
	tests := []struct {
		name string
		fsys fstest.MapFS
		dir  string
		want string // "" means success
	}{
		{"plain chart", good, "c", ""},
		{"vendored dependency", vendored, "c", ""},
		{"missing dependency", withDep, "c", "dependency redis is not in charts/"},
		{"symbolic link", link, "c", "templates/link.yaml is a symbolic link, not a regular file"},
		{"no version", badName, "c", "Chart.yaml"},
		{"no Chart.yaml", good, "nope", "needs a Chart.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Package(tt.fsys, tt.dir, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Package: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Package error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestFetchLocalRefusesAndLeavesNothing: a local chart directory holding a
// symbolic link, or lacking Chart.yaml, fails with an error that names the
// chart and the fix (it used to panic on a nil file), and leaves no
// temporary archive behind.
func TestFetchLocalRefusesAndLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root := t.TempDir()
	copyTree(t, "testdata/factory-app", filepath.Join(root, "linked"))
	if err := os.Symlink("../values.yaml", filepath.Join(root, "linked", "templates", "values.yaml")); err != nil {
		t.Fatal(err)
	}
	copyTree(t, "testdata/factory-app", filepath.Join(root, "bare"))
	if err := os.Remove(filepath.Join(root, "bare", "Chart.yaml")); err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(newCache(t))
	for dir, want := range map[string]string{
		"linked": "chart linked: templates/values.yaml is a symbolic link, not a regular file; replace the link by the file",
		"bare":   "chart bare: open bare/Chart.yaml: no such file or directory; a chart directory needs a Chart.yaml",
	} {
		c := manifest.Chart{Source: manifest.ChartLocal, Path: dir, Component: "core"}
		got, err := f.Fetch(context.Background(), os.DirFS(root), c, nil)
		if err == nil {
			t.Fatalf("%s: fetched %+v", dir, got)
		}
		if !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "chart "+dir) != 1 {
			t.Errorf("%s: error %q does not say %q once", dir, err, want)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	// The chart itself, untouched, is fetched, and its temporary file removed.
	copyTree(t, "testdata/factory-app", filepath.Join(root, "good"))
	if _, err := f.Fetch(context.Background(), os.DirFS(root), manifest.Chart{Source: manifest.ChartLocal, Path: "good", Component: "core"}, nil); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
