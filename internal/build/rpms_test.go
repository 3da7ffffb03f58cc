package build

import (
	"compress/gzip"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/factory-appliance/appliance/internal/build/rpmrepo"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/extract"
	"github.com/factory-appliance/appliance/internal/bundle/inspect"
	"github.com/factory-appliance/appliance/manifest"
)

// The requested fixture packages: chains, a virtual provide, a soname, a
// file dependency, a versioned require and two versions of one package
// across two repos (scripts/rpm-fixtures/build.sh).
var rpmRequests = []string{"chain-a", "cron-lite", "foo-viewer", "foo-wrapper", "app-v", "rich-dep", "extra-tool", "epoch-pkg"}

var (
	rpmFixtureOnce sync.Once
	rpmFixtureDir  string
	rpmFixtureErr  error
)

// rpmFixture builds the signed fixture repositories once per test binary.
func rpmFixture(t *testing.T) string {
	t.Helper()
	rpmFixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "build-rpm-fixture-")
		if err != nil {
			rpmFixtureErr = err
			return
		}
		_, self, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "rpm-fixtures", "build.sh")
		if out, err := exec.Command("bash", script, dir).CombinedOutput(); err != nil {
			rpmFixtureErr = fmt.Errorf("scripts/rpm-fixtures/build.sh: %v\n%s", err, out)
			return
		}
		rpmFixtureDir = dir
	})
	if rpmFixtureErr != nil {
		t.Fatal(rpmFixtureErr)
	}
	return rpmFixtureDir
}

// rpmStack writes a manifest that asks for requests from the fixture repos
// served at url, with the fixture key, and loads it.
func rpmStack(t *testing.T, url, fixture string, requests ...string) *manifest.Stack {
	t.Helper()
	dir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(fixture, "keys", "RPM-GPG-KEY-fixture"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "RPM-GPG-KEY-fixture"), key, 0o644)
	os.WriteFile(filepath.Join(dir, "base.txt"), []byte("# assumed installed\nglibc\n"), 0o644)
	m := fmt.Sprintf(`apiVersion: appliance/v1
kind: Stack
metadata: {name: rpmtest, version: 1.0.0}
spec:
  rpmRepos:
    - {id: base, baseurl: %[1]s/base, gpgkey: RPM-GPG-KEY-fixture}
    - {id: updates, baseurl: %[1]s/updates, gpgkey: RPM-GPG-KEY-fixture}
  rpmBase: base.txt
  components:
    - name: hosts
      roles: [master, worker]
      rpms: [%[2]s]
`, url, strings.Join(requests, ", "))
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func serveDir(t *testing.T, dir string) string {
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRPMRepoInstallsWithDNF builds a bundle with the closure of the
// requested packages, extracts it, and has the real dnf install every
// requested package from the bundle's repository alone, gpgcheck on, with
// the bundled key. Our primary.xml must list the same packages (NEVRA and
// checksum) as createrepo_c's for the same files.
func TestRPMRepoInstallsWithDNF(t *testing.T) {
	fixture := rpmFixture(t)
	st := rpmStack(t, serveDir(t, fixture), fixture, rpmRequests...)
	dir := t.TempDir()
	res, err := Build(context.Background(), Options{Stack: st, Output: filepath.Join(dir, "rpm.bundle"), CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(context.Background(), Options{Stack: st, Output: filepath.Join(dir, "again.bundle"), CacheDir: filepath.Join(dir, "cache2")})
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, again.Path) != fileSHA(t, res.Path) {
		t.Fatal("two builds of the same RPM stack, each with its own cache, differ")
	}
	r, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	checkInspectRPMs(t, r)
	want := append([]string(nil), rpmRequests...)
	sort.Strings(want)
	for _, role := range []string{"master", "worker"} {
		if got := r.Index().Annotations[bundle.AnnotationPackagesPrefix+role]; got != strings.Join(want, " ") {
			t.Errorf("role %s packages: %q, want %q", role, got, strings.Join(want, " "))
		}
	}
	if got, ok := r.Index().Annotations[bundle.AnnotationPackagesPrefix+"registry"]; ok {
		t.Errorf("no component names the registry role, yet it has packages %q", got)
	}
	x := filepath.Join(dir, "x")
	if err := extract.Extract(context.Background(), r, x, nil); err != nil {
		t.Fatal(err)
	}
	r.Close()
	repo := filepath.Join(x, "repos", rpmrepo.ID(st))
	key := filepath.Join(repo, "keys", "RPM-GPG-KEY-base-1")
	root := t.TempDir()
	args := []string{"-y", "--installroot=" + root, "--releasever=7", "--forcearch=x86_64",
		"--setopt=reposdir=/nonexistent", "--setopt=cachedir=" + filepath.Join(root, ".dnf-cache"),
		"--setopt=install_weak_deps=0", "--nodocs", "--disablerepo=*",
		"--repofrompath=bundle,file://" + repo, "--setopt=bundle.gpgcheck=1", "--setopt=bundle.gpgkey=file://" + key, "install"}
	if out, err := exec.Command(tool(t, "dnf", "dnf"), append(args, rpmRequests...)...).CombinedOutput(); err != nil {
		t.Fatalf("dnf install from the bundle's repo: %v\n%s", err, out)
	}
	q, err := exec.Command("rpm", "--root", root, "-q", "--qf", "%{NAME}\n", "-a").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rpmRequests {
		if !strings.Contains("\n"+string(q), "\n"+p+"\n") {
			t.Errorf("%s is not installed after dnf install; installed:\n%s", p, q)
		}
	}
	ours := primarySet(t, repo)
	ref := filepath.Join(dir, "ref")
	os.MkdirAll(ref, 0o755)
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "Packages"), ref).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := exec.Command(tool(t, "createrepo_c", "createrepo-c"), "--no-database", ref).CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, out)
	}
	if theirs := primarySet(t, ref); strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Fatalf("primary.xml differs from createrepo_c's:\nours:\n%s\ncreaterepo_c:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	if len(ours) <= len(rpmRequests) {
		t.Fatalf("the closure has %d packages, no more than the %d requested: dependencies were not pulled in", len(ours), len(rpmRequests))
	}
}

// primarySet lists NEVRA and checksum of every package in a repository's
// primary.xml.gz, sorted.
func primarySet(t *testing.T, repo string) []string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(repo, "repodata", "*primary.xml.gz"))
	if len(matches) != 1 {
		t.Fatalf("%s: want one primary.xml.gz, found %v", repo, matches)
	}
	f, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Packages []struct {
			Name    string `xml:"name"`
			Arch    string `xml:"arch"`
			Version struct {
				Epoch string `xml:"epoch,attr"`
				Ver   string `xml:"ver,attr"`
				Rel   string `xml:"rel,attr"`
			} `xml:"version"`
			Checksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"checksum"`
		} `xml:"package"`
	}
	if err := xml.NewDecoder(zr).Decode(&md); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range md.Packages {
		out = append(out, fmt.Sprintf("%s-%s:%s-%s.%s %s:%s", p.Name, p.Version.Epoch, p.Version.Ver, p.Version.Rel, p.Arch, p.Checksum.Type, p.Checksum.Value))
	}
	sort.Strings(out)
	return out
}

// TestRPMFailuresNameThePackage: a package signed by another key, a
// tampered package, and an unsatisfiable requirement each fail the build
// with an error naming the package (and, for the requirement, the chain).
func TestRPMFailuresNameThePackage(t *testing.T) {
	fixture := rpmFixture(t)
	tampered := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(fixture, "base"), filepath.Join(fixture, "updates"), tampered).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	victim := filepath.Join(tampered, "base", "chain-c-1.0-1.noarch.rpm")
	data, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-10] ^= 0xff
	os.WriteFile(victim, data, 0o644)
	cases := []struct {
		name, url, request, want string
	}{
		{"other key", serveDir(t, fixture), "badsig", "badsig-1.0-1.noarch"},
		{"tampered", serveDir(t, tampered), "chain-a", "chain-c"},
		{"unsatisfiable", serveDir(t, fixture), "broken-top", "broken-top → broken-app → libmissing.so.3()(64bit): no provider in [base updates], not in rpmBase"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := rpmStack(t, c.url, fixture, c.request)
			dir := t.TempDir()
			out := filepath.Join(dir, "rpm.bundle")
			_, err := Build(context.Background(), Options{Stack: st, Output: out, CacheDir: filepath.Join(dir, "cache")})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Fatal("a failed build left a bundle behind")
			}
		})
	}
}

// checkInspectRPMs: inspect lists every RPM, the requested ones as such and
// every other one with the package that pulled it in.
func checkInspectRPMs(t *testing.T, r *bundle.Reader) {
	t.Helper()
	s, err := inspect.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	requested := map[string]bool{}
	for _, p := range rpmRequests {
		requested[p] = true
	}
	deps := 0
	for _, p := range s.RPMs {
		name := p.NEVRA[:strings.LastIndex(p.NEVRA[:strings.LastIndex(p.NEVRA, "-")], "-")]
		switch {
		case p.Requested != requested[name]:
			t.Errorf("%s: requested = %v, want %v", p.NEVRA, p.Requested, requested[name])
		case !p.Requested && (p.By == "" || p.Need == ""):
			t.Errorf("%s is a dependency but inspect does not say of what: %+v", p.NEVRA, p)
		case !p.Requested:
			deps++
		}
		if p.Size <= 0 {
			t.Errorf("%s: size %d", p.NEVRA, p.Size)
		}
	}
	if deps == 0 {
		t.Fatalf("inspect lists no dependency: %+v", s.RPMs)
	}
}
