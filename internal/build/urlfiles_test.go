package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/factory-appliance/appliance/internal/build/urlfile"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// gpgHome is a throw-away GnuPG home: real keys made by Debian's gpg.
type gpgHome struct {
	t   *testing.T
	dir string
}

func newGPG(t *testing.T) *gpgHome {
	t.Helper()
	tool(t, "gpg", "gnupg")
	// Short: gpg-agent's socket lives in it, and socket paths are short.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	g := &gpgHome{t: t, dir: dir}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", dir, "--kill", "all").Run()
		os.RemoveAll(dir)
	})
	return g
}

func (g *gpgHome) run(args ...string) []byte {
	g.t.Helper()
	cmd := exec.Command("gpg", append([]string{"--homedir", g.dir, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// key makes a signing key for name and returns its fingerprint.
func (g *gpgHome) key(name string) string {
	g.t.Helper()
	g.run("--quick-gen-key", name+" <"+name+"@example.invalid>", "rsa2048", "sign", "never")
	for _, line := range strings.Split(string(g.run("--with-colons", "--list-keys", name)), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			return f[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s", name)
	return ""
}

func (g *gpgHome) export(name string) []byte { return g.run("--armor", "--export", name) }

// sign returns name's armored detached signature of data, as Harbor's
// release job makes its .asc files.
func (g *gpgHome) sign(name string, data []byte) []byte {
	g.t.Helper()
	p := filepath.Join(g.t.TempDir(), "asset")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		g.t.Fatal(err)
	}
	return g.run("--local-user", name, "--armor", "--detach-sign", "--output", "-", p)
}

// assetServer serves a release directory over loopback HTTP: path → bytes,
// 404 for anything else. Its content may change between requests.
type assetServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  atomic.Int32
}

func newAssetServer(t *testing.T) *assetServer {
	s := &assetServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		data, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *assetServer) set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.files, path)
	} else {
		s.files[path] = data
	}
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// urlStack writes a stack whose component "harbor" has the one file entry
// given (YAML, indented under files:), with the keys given under keys/.
func urlStack(t *testing.T, entry string, keys map[string][]byte) *manifest.Stack {
	t.Helper()
	dir := t.TempDir()
	for name, data := range keys {
		writeFileT(t, filepath.Join(dir, "keys", name), string(data))
	}
	path := filepath.Join(dir, "stack.yaml")
	writeFileT(t, path, "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: urlfiles, version: 1.0.0}\nspec:\n  components:\n    - name: harbor\n      files:\n"+entry)
	st, err := manifest.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestURLFileSignature: a URL file that requires an OpenPGP signature
// builds and locks when Debian's gpg signed it with the manifest's key, and
// every way it can go wrong fails the build and the lock naming the file,
// the key and the fix, with no bundle written: the file tampered with, a
// key that did not sign it, a fingerprint the key file lacks, no .asc
// upstream, and an .asc that holds no signature.
func TestURLFileSignature(t *testing.T) {
	g := newGPG(t)
	signerFP := g.key("harbor-sign")
	otherFP := g.key("other")
	installer := bytes.Repeat([]byte("harbor offline installer\n"), 4096)
	asc := g.sign("harbor-sign", installer)
	srv := newAssetServer(t)
	const asset = "/download/v2.8.4/harbor-offline-installer-v2.8.4.tgz"
	fileURL := srv.URL + asset
	keys := map[string][]byte{"harbor.asc": g.export("harbor-sign"), "other.asc": g.export("other")}

	tests := []struct {
		name    string
		verify  string // the entry's verify: mapping
		content []byte // served at the asset's URL
		sig     []byte // served at URL.asc; nil: 404
		want    []string
	}{
		{"good", "{gpgkey: keys/harbor.asc}", installer, asc, nil},
		{"good with fingerprint", "{gpgkey: keys/harbor.asc, fingerprint: " + signerFP + "}", installer, asc, nil},
		{"tampered file", "{gpgkey: keys/harbor.asc}", append(bytes.Clone(installer), 'x'), asc,
			[]string{fileURL, "signature " + fileURL + ".asc does not match the downloaded bytes", "verify.gpgkey keys/harbor.asc", "do not use this download"}},
		{"wrong key", "{gpgkey: keys/other.asc}", installer, asc,
			[]string{fileURL, "was made by key " + signerFP, "which verify.gpgkey keys/other.asc does not hold", "ship it in keys/other.asc"}},
		{"fingerprint not in the key file", "{gpgkey: keys/harbor.asc, fingerprint: " + otherFP + "}", installer, asc,
			[]string{fileURL, "verify.gpgkey keys/harbor.asc does not hold key " + otherFP, "gpg --armor --export " + otherFP}},
		{"missing .asc", "{gpgkey: keys/harbor.asc}", installer, nil,
			[]string{fileURL, "signature " + fileURL + ".asc: ", "GET " + fileURL + ".asc: HTTP 404", "point verify.signature at the upstream's detached signature"}},
		{"not a signature", "{gpgkey: keys/harbor.asc}", installer, g.export("other"),
			[]string{fileURL, "signature " + fileURL + ".asc holds no signature", "point verify.signature"}},
		{"endless .asc", "{gpgkey: keys/harbor.asc}", installer, bytes.Repeat([]byte("A"), 2<<20),
			[]string{fileURL, "signature " + fileURL + ".asc: the download is larger than 1048576 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.set(asset, tt.content)
			srv.set(asset+".asc", tt.sig)
			st := urlStack(t, fmt.Sprintf("        - url: %s\n          verify: %s\n", fileURL, tt.verify), keys)
			dir := t.TempDir()
			o := Options{Stack: st, Output: filepath.Join(dir, "out", "x.bundle"), CacheDir: filepath.Join(dir, "cache")}
			os.MkdirAll(filepath.Dir(o.Output), 0o755)
			l, lerr := Lock(context.Background(), o)
			res, berr := Build(context.Background(), o)
			if tt.want == nil {
				if lerr != nil || berr != nil {
					t.Fatalf("lock: %v\nbuild: %v", lerr, berr)
				}
				if got := l.Files[fileURL]; got != (lock.File{SHA256: hexSHA(installer), Size: int64(len(installer))}) {
					t.Errorf("locked %+v", got)
				}
				r, err := bundle.Open(res.Path)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if a, ok := r.Lookup("files/harbor/harbor-offline-installer-v2.8.4.tgz"); !ok || a.Digest != "sha256:"+hexSHA(installer) {
					t.Errorf("the bundle's installer: %+v (found %v)", a, ok)
				}
				return
			}
			t.Logf("build: %v", berr)
			for what, err := range map[string]error{"lock": lerr, "build": berr} {
				if err == nil {
					t.Errorf("%s succeeded", what)
					continue
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s error lacks %q:\n%v", what, w, err)
					}
				}
			}
			if left, _ := os.ReadDir(filepath.Dir(o.Output)); len(left) != 0 {
				t.Errorf("a failed build left %v", left)
			}
		})
	}

	// A cached copy is no proof of a signature: the next build checks it again.
	srv.set(asset, installer)
	srv.set(asset+".asc", asc)
	st := urlStack(t, fmt.Sprintf("        - url: %s\n          verify: {gpgkey: keys/harbor.asc}\n", fileURL), keys)
	dir := t.TempDir()
	o := Options{Stack: st, Output: filepath.Join(dir, "a.bundle"), CacheDir: filepath.Join(dir, "cache")}
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	srv.set(asset+".asc", nil)
	o.Output = filepath.Join(dir, "b.bundle")
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), ".asc: HTTP 404") {
		t.Errorf("a rebuild from the cache without the signature upstream: %v", err)
	}

	// lint and --dry-run refuse the fingerprint the key file lacks, offline.
	st = urlStack(t, fmt.Sprintf("        - url: %s\n          verify: {gpgkey: keys/harbor.asc, fingerprint: %s}\n", fileURL, otherFP), keys)
	if err := Check(st); err == nil || !strings.Contains(err.Error(), "stack.yaml:9: verify.gpgkey keys/harbor.asc does not hold key "+otherFP) {
		t.Errorf("Check = %v, want the missing fingerprint at stack.yaml:9", err)
	}
}

// TestURLFileLockAndDrift: a URL file without sha256 is downloaded and
// named by its bytes in an unlocked build; `bundle lock` pins its sha256
// and size; a locked build fetches exactly that, refuses other bytes or a
// longer file as drift naming the file and `bundle lock`, and builds from
// the cache without downloading. A download past urlfile.MaxFileSize fails once
// and stores nothing.
func TestURLFileLockAndDrift(t *testing.T) {
	srv := newAssetServer(t)
	const asset = "/tools/tool.tar.gz"
	v1 := []byte("tool version 1\n")
	srv.set(asset, v1)
	fileURL := srv.URL + asset
	st := urlStack(t, "        - url: "+fileURL+"\n", nil)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	opts := func(name string) Options {
		return Options{Stack: st, Output: filepath.Join(dir, name), CacheDir: cache}
	}

	res, err := Build(context.Background(), opts("unlocked.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := r.Lookup("files/harbor/tool.tar.gz")
	r.Close()
	if !ok || a.Digest != "sha256:"+hexSHA(v1) || a.Size != int64(len(v1)) {
		t.Fatalf("unlocked build recorded %+v (found %v), want sha256:%s", a, ok, hexSHA(v1))
	}

	l, err := Lock(context.Background(), opts("-"))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Files[fileURL]; got != (lock.File{SHA256: hexSHA(v1), Size: int64(len(v1))}) {
		t.Fatalf("lock recorded %+v", got)
	}
	locked := func(name, cacheDir string) error {
		o := opts(name)
		o.CacheDir, o.Lock, o.Locked = cacheDir, l, true
		_, err := Build(context.Background(), o)
		return err
	}
	if err := locked("locked.bundle", filepath.Join(dir, "fresh-cache")); err != nil {
		t.Fatalf("locked build with an empty cache: %v", err)
	}

	for _, tc := range []struct {
		name     string
		upstream []byte
		want     string
	}{
		{"same length, other bytes", []byte("tool version 2\n"), "upstream " + hexSHA([]byte("tool version 2\n"))},
		{"longer", []byte("tool version 10\n"), fmt.Sprintf("upstream more than the locked %d bytes", len(v1))},
	} {
		srv.set(asset, tc.upstream)
		err := locked("drift.bundle", t.TempDir())
		var drift *lock.DriftError
		if !errors.As(err, &drift) || len(drift.Drifts) != 1 || drift.Drifts[0].Kind != lock.KindFile || drift.Drifts[0].Name != fileURL {
			t.Fatalf("%s: got %v, want a DriftError for %s only", tc.name, err, fileURL)
		}
		for _, w := range []string{"file " + fileURL + ": locked " + hexSHA(v1), tc.want, "run `bundle lock`"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: drift error lacks %q:\n%v", tc.name, w, err)
			}
		}
	}
	hits := srv.hits.Load()
	if err := locked("cached.bundle", cache); err != nil || srv.hits.Load() != hits {
		t.Fatalf("locked build from the cache: %v, %d downloads, want none", err, srv.hits.Load()-hits)
	}

	missing := lock.New(st)
	o := opts("nolock.bundle")
	o.Lock, o.Locked = missing, true
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "missing from the lock: file "+fileURL) {
		t.Fatalf("a lock without the file: %v", err)
	}

	defer func(old int64) { urlfile.MaxFileSize = old }(urlfile.MaxFileSize)
	urlfile.MaxFileSize = 8
	hits = srv.hits.Load()
	cacheDir := filepath.Join(dir, "small-cache")
	_, err = Build(context.Background(), Options{Stack: st, Output: filepath.Join(dir, "big.bundle"), CacheDir: cacheDir})
	if err == nil || !strings.Contains(err.Error(), fileURL) || !strings.Contains(err.Error(), "larger than 8 bytes") {
		t.Fatalf("over MaxFileSize: %v", err)
	}
	if n := srv.hits.Load() - hits; n != 1 {
		t.Errorf("an oversized download was tried %d times, want once", n)
	}
	if objs, _ := os.ReadDir(filepath.Join(cacheDir, "sha256")); len(objs) != 0 {
		t.Errorf("an oversized download left %d cache entries", len(objs))
	}
}

// githubToLoopback sends requests for github.com to a loopback server and
// refuses every other host, so a test of the built-in stack's real URLs
// never leaves the machine.
type githubToLoopback struct{ to *url.URL }

func (g githubToLoopback) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "github.com" {
		return nil, fmt.Errorf("test transport: %s is not routed", req.URL.Host)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = g.to.Scheme, g.to.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

// TestKubeSphereStackLocksHarborInstaller: the built-in kubesphere stack
// lists Harbor's offline installer in component harbor, so a bundle of it
// installs Harbor; `bundle lock` pins it, at its real URL, to the sha256
// and size of what was served (here by a loopback server standing in for
// github.com, with stand-in bytes).
func TestKubeSphereStackLocksHarborInstaller(t *testing.T) {
	st, err := manifest.Builtin("kubesphere")
	if err != nil {
		t.Fatal(err)
	}
	const want = "https://github.com/goharbor/harbor/releases/download/v2.8.4/harbor-offline-installer-v2.8.4.tgz"
	var installer *manifest.File
	for _, f := range st.Files() {
		if f.URL == want && f.Component == "harbor" {
			installer = &f
		}
	}
	if installer == nil {
		t.Fatalf("component harbor does not list %s", want)
	}
	srv := newAssetServer(t)
	body := []byte("stand-in for Harbor's offline installer\n")
	srv.set(strings.TrimPrefix(want, "https://github.com"), body)
	to, _ := url.Parse(srv.URL)
	b, err := newBuilder(Options{Stack: st, Output: "-", CacheDir: t.TempDir(), Transport: githubToLoopback{to}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.prog.Close()
	l := lock.New(st)
	if err := b.lockFiles(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	if got := l.Files[want]; got != (lock.File{SHA256: hexSHA(body), Size: int64(len(body))}) || len(l.Files) != 1 {
		t.Fatalf("lock files = %+v", l.Files)
	}
	var out bytes.Buffer
	if err := DryRun(&out, Options{Stack: st}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "  file "+want+" (") {
		t.Errorf("the dry run does not list Harbor's installer:\n%s", out.String())
	}
}

// answerAll answers every request with 200 and counts them.
type answerAll struct{ n atomic.Int32 }

func (a *answerAll) RoundTrip(*http.Request) (*http.Response, error) {
	a.n.Add(1)
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("data"))}, nil
}

// TestURLFilePlainHTTPGuard: a URL file over plain HTTP is fetched only
// from loopback or a host named insecure; any other is refused before a
// request is made.
func TestURLFilePlainHTTPGuard(t *testing.T) {
	st, err := manifest.Builtin("kubesphere")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url      string
		insecure []string
		ok       bool
	}{
		{"https://files.example/a", nil, true},
		{"http://127.0.0.1:9/a", nil, true},
		{"http://files.example/a", nil, false},
		{"http://files.example/a", []string{"files.example"}, true},
		{"http://files.example:8080/a", []string{"files.example:8081"}, false},
	}
	for _, c := range cases {
		rt := &answerAll{}
		b, err := newBuilder(Options{Stack: st, Output: "-", CacheDir: t.TempDir(), Transport: rt, Insecure: c.insecure})
		if err != nil {
			t.Fatal(err)
		}
		err = b.urls.Download(context.Background(), c.url, func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err })
		b.prog.Close()
		if c.ok && (err != nil || rt.n.Load() != 1) {
			t.Errorf("%s (insecure %v): %v after %d requests, want one request", c.url, c.insecure, err, rt.n.Load())
		}
		if !c.ok && (!errors.Is(err, fetch.ErrPlainHTTP) || rt.n.Load() != 0 || !strings.Contains(err.Error(), "--insecure-registry")) {
			t.Errorf("%s (insecure %v): %v after %d requests, want plain HTTP refused with the way out", c.url, c.insecure, err, rt.n.Load())
		}
	}
}
