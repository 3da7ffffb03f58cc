package repodata_test

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/rpms"
	"github.com/factory-appliance/appliance/rpms/internal/rpmfixture"
	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpm"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// fixtureDir holds the repositories scripts/rpm-fixtures/build.sh made for
// this test run.
var fixtureDir string

func TestMain(m *testing.M) {
	os.Exit(rpmfixture.Main(m, &fixtureDir))
}

// primarySet reads a repository's primary metadata as "NEVRA checksum
// header-range" lines.
func primarySet(t *testing.T, dir string) []string {
	t.Helper()
	rd, err := rpms.LoadRepo(context.Background(), &rpms.Fetcher{}, rpms.Repo{ID: filepath.Base(dir), BaseURL: "file://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range rd.Packages {
		s = append(s, p.NEVRA()+" "+p.Checksum.String()+" "+p.Location)
	}
	slices.Sort(s)
	return s
}

func copyRPMs(t *testing.T, dirs ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(fixtureDir, d, "*.rpm"))
		for _, f := range m {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dst
}

func TestRepodataMatchesCreaterepo(t *testing.T) {
	ours := copyRPMs(t, "base", "updates")
	theirs := copyRPMs(t, "base", "updates")
	pkgs, err := rpmfile.ReadPackagesDir(ours, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := repodata.Write(ours, pkgs, repodata.Options{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("createrepo_c", "--quiet", theirs).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v %s", err, out)
	}
	a, b := primarySet(t, ours), primarySet(t, theirs)
	if len(a) != 36 || !slices.Equal(a, b) {
		t.Errorf("our primary:\n%s\ncreaterepo_c's:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	// Package by package, the primary XML is the same text, except the
	// "file" time (createrepo_c takes the file's mtime, we the build time).
	// filelists and other are the same text too.
	for _, kind := range []string{"primary", "filelists", "other"} {
		a, b := metadataChunks(t, ours, kind), metadataChunks(t, theirs, kind)
		if len(a) != 36 || len(b) != 36 {
			t.Errorf("%s: %d and %d packages", kind, len(a), len(b))
		}
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Errorf("%s differs:\nours:\n%s\ncreaterepo_c's:\n%s", kind, a[i], b[i])
				break
			}
		}
	}
	// Header ranges and the file/filelists split match too.
	oursRD, _ := rpms.LoadRepo(context.Background(), &rpms.Fetcher{}, rpms.Repo{ID: "ours", BaseURL: "file://" + ours})
	theirsRD, _ := rpms.LoadRepo(context.Background(), &rpms.Fetcher{}, rpms.Repo{ID: "theirs", BaseURL: "file://" + theirs})
	byID := map[string]*rpm.Package{}
	for _, p := range theirsRD.Packages {
		byID[p.Checksum.Value] = p
	}
	for _, p := range oursRD.Packages {
		q := byID[p.Checksum.Value]
		if q == nil || p.HeaderStart != q.HeaderStart || p.HeaderEnd != q.HeaderEnd || len(p.Files) != len(q.Files) || len(p.Provides) != len(q.Provides) {
			t.Errorf("%s: ours %+v, createrepo_c's %+v", p.NEVRA(), p, q)
		}
	}
}

func TestRepodataReproducible(t *testing.T) {
	dir := copyRPMs(t, "base")
	pkgs, err := rpmfile.ReadPackagesDir(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	collect := func(pkgs []*rpm.Package) map[string]string {
		out := map[string]string{}
		err := repodata.Generate(pkgs, func(name string, size int64, r io.Reader) error {
			b, err := io.ReadAll(r)
			if int64(len(b)) != size {
				t.Errorf("%s: size %d, emitted %d bytes", name, size, len(b))
			}
			out[name] = string(b)
			return err
		}, repodata.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := collect(pkgs)
	slices.Reverse(pkgs)
	second := collect(pkgs)
	if len(first) != 4 {
		t.Fatalf("emitted %d files, want 4", len(first))
	}
	for name, content := range first {
		if second[name] != content {
			t.Errorf("%s differs between runs", name)
		}
	}
	if strings.Contains(first["repodata/repomd.xml"], "zst") {
		t.Error("repomd.xml mentions zstd, which yum 3 cannot read")
	}
}

func BenchmarkRepodata(b *testing.B) {
	dir := b.TempDir()
	m, _ := filepath.Glob(filepath.Join(fixtureDir, "*", "*.rpm"))
	for _, f := range m {
		data, _ := os.ReadFile(f)
		os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644)
	}
	for b.Loop() {
		pkgs, err := rpmfile.ReadPackagesDir(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := repodata.Write(dir, pkgs, repodata.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

var fileTime = regexp.MustCompile(`<time file="[0-9]+"`)

// metadataChunks returns the <package> elements of dir's KIND.xml.gz, with
// the file time blanked, sorted.
func metadataChunks(t *testing.T, dir, kind string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "repodata", "*-"+kind+".xml.gz"))
	if len(m) != 1 {
		t.Fatalf("%s: %d primary files", dir, len(m))
	}
	f, err := os.Open(m[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	body = body[strings.Index(body, "<package "):]
	body = body[:strings.LastIndex(body, "</package>")+len("</package>")]
	chunks := strings.SplitAfter(body, "</package>")
	chunks = chunks[:len(chunks)-1] // the empty rest after the last element
	for i := range chunks {
		chunks[i] = strings.TrimSpace(fileTime.ReplaceAllString(chunks[i], `<time file=""`))
	}
	slices.Sort(chunks)
	return chunks
}
