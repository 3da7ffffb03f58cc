package rpms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

func resolveAndDownload(t *testing.T, dir string, requests ...string) ([]Fetched, error) {
	_, _, fetched, err := resolveAndDownloadTo(t, dir, requests...)
	return fetched, err
}

// resolveAndDownloadTo resolves requests over the fixture in dir (served
// over HTTP) and downloads the closure into a new cache.
func resolveAndDownloadTo(t *testing.T, dir string, requests ...string) (*cas.Store, []Resolved, []Fetched, error) {
	t.Helper()
	repos := loadFixtureRepos(t, serveFixture(t, dir))
	set, err := Resolve(context.Background(), repos, requests, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fetched, err := Download(context.Background(), &Fetcher{}, store, repos, set, DownloadOptions{Parallel: 3})
	return store, set, fetched, err
}

func TestDownload(t *testing.T) {
	got, err := resolveAndDownload(t, fixtureDir, "chain-a", "app-v", "foo-viewer")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("downloaded %d packages, want 9", len(got))
	}
	for _, f := range got {
		if !strings.HasPrefix(f.Digest, "sha256:") {
			t.Errorf("%s: digest %q", f.NEVRA(), f.Digest)
		}
		if f.Repo == "base" && f.Digest != "sha256:"+f.Checksum.Value {
			t.Errorf("%s: digest %s, primary says %s", f.NEVRA(), f.Digest, f.Checksum)
		}
	}
}

func TestDownloadRejects(t *testing.T) {
	cases := []struct {
		name, request, wantIn string
		unsigned              bool
	}{
		{"other key", "badsig", "badsig-1.0-1.noarch from repo updates: signed by a key the repository does not trust", false},
		{"unsigned", "nosig", "nosig-1.0-1.noarch from repo updates: package is not signed", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := resolveAndDownload(t, fixtureDir, c.request)
			var se *rpmfile.SignatureError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), c.wantIn) {
				t.Fatalf("err = %v, want a SignatureError containing %q", err, c.wantIn)
			}
			if errors.Is(err, rpmfile.ErrUnsigned) != c.unsigned {
				t.Errorf("errors.Is(err, ErrUnsigned) = %v", !c.unsigned)
			}
		})
	}
}

// copyFixture copies the fixture so a test can alter it.
func copyFixture(t *testing.T) string {
	dst := filepath.Join(t.TempDir(), "fx")
	if out, err := exec.Command("cp", "-a", fixtureDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		fi, _ := f.Stat()
		off += fi.Size()
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadTampered(t *testing.T) {
	dir := copyFixture(t)
	flipByte(t, filepath.Join(dir, "base", "chain-c-1.0-1.noarch.rpm"), -20)
	_, err := resolveAndDownload(t, dir, "chain-a")
	var de *cas.DigestError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "chain-c-1.0-1.noarch from repo base") {
		t.Fatalf("err = %v, want a digest error naming chain-c", err)
	}
}

func TestAddLocal(t *testing.T) {
	keys, err := LoadKeys(fixtureKeys(t)...)
	if err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := copyFixture(t)
	good := filepath.Join(dir, "base", "footool-1.0-1.x86_64.rpm")
	p, digest, err := AddLocal(store, LocalFile{Path: good, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Has(digest); !ok || p.Name != "footool" {
		t.Fatalf("%s not stored as %s", p.NEVRA(), digest)
	}
	payload := filepath.Join(dir, "base", "chain-b-1.0-1.x86_64.rpm")
	flipByte(t, payload, -20)
	header := filepath.Join(dir, "updates", "chain-d-1.1-1.noarch.rpm")
	h, err := rpmfile.ReadPackageFile(filepath.Join(fixtureDir, "updates", "chain-d-1.1-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, header, h.HeaderEnd-3) // inside the main header's data
	for path, want := range map[string]string{
		payload: "payload digest mismatch",
		header:  "bad signature",
		filepath.Join(dir, "updates", "badsig-1.0-1.noarch.rpm"): "does not trust",
	} {
		_, _, err := AddLocal(store, LocalFile{Path: path, Keys: keys})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Errorf("%s: err = %v, want %q naming the file", filepath.Base(path), err, want)
		}
	}
}

func TestDownloadSHA1RepoUsesCacheAgain(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	set, err := Resolve(context.Background(), repos, []string{"libver"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if set[0].Checksum.Type != "sha1" {
		t.Fatalf("libver comes with a %s checksum, want sha1 from updates", set[0].Checksum.Type)
	}
	store, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	first, err := Download(context.Background(), &Fetcher{}, store, repos, set, DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// With the repositories gone, the second run must be served by the cache.
	gone := []*RepoData{{Repo: repos[0].Repo}, {Repo: Repo{ID: "updates", BaseURL: "http://127.0.0.1:1/", Keys: repos[1].Repo.Keys}}}
	second, err := Download(context.Background(), &Fetcher{}, store, gone, set, DownloadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Digest != second[0].Digest {
		t.Errorf("digests differ: %s, %s", first[0].Digest, second[0].Digest)
	}
}

func TestDownloadRetriesTransientFailures(t *testing.T) {
	var failed atomic.Int32
	files := http.FileServer(http.Dir(fixtureDir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".rpm") && failed.Add(1) <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	repos := loadFixtureRepos(t, srv.URL)
	set, err := Resolve(context.Background(), repos, []string{"step-6"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Download(context.Background(), &Fetcher{}, store, repos, set, DownloadOptions{}); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	if failed.Load() != 3 {
		t.Errorf("%d requests for the package, want 3", failed.Load())
	}
}
