package siteserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// fuzzSecret is planted in a file next to the fuzz bundle's directory: no
// response may ever carry it.
const fuzzSecret = "fuzz-secret-outside-the-bundle-3f9c1a"

// fuzzSetup is a small synthetic bundle (one image of two layers, one of
// them several chunks of a copy buffer and over content.SmallEntrySize, repos,
// files and charts), served from the bundle file and from its directory.
type fuzzSetup struct {
	handlers map[string]http.Handler
	repo     string
	tag      string
	manifest string // digest
	layer    string // digest of the large layer
	entries  map[string][]byte
}

var (
	fuzzOnce sync.Once
	fuzzSet  *fuzzSetup
	fuzzErr  error
	fuzzRoot string // removed by TestMain
)

func newFuzzSetup(t testing.TB) *fuzzSetup {
	fuzzOnce.Do(func() { fuzzSet, fuzzErr = buildFuzzSetup() })
	if fuzzErr != nil {
		t.Fatal(fuzzErr)
	}
	return fuzzSet
}

func buildFuzzSetup() (*fuzzSetup, error) {
	root, err := os.MkdirTemp("", "siteserver-fuzz-*")
	if err != nil {
		return nil, err
	}
	fuzzRoot = root
	// The bundle directory is root/bundle; the secret is beside it.
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte(fuzzSecret), 0o644); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "bundle")
	fs := &fuzzSetup{repo: "docker.io/library/fuzz", tag: "1.0", entries: map[string][]byte{}}
	put := func(p string, b []byte) error {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		fs.entries[p] = b
		return os.WriteFile(full, b, 0o644)
	}
	blob := func(b []byte) (string, error) {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		return d, put(content.BlobsPrefix+hex.EncodeToString(sum[:]), b)
	}
	big := make([]byte, 3*bufferSize+12345)
	rand.New(rand.NewSource(5)).Read(big)
	if fs.layer, err = blob(big); err != nil {
		return nil, err
	}
	small, err := blob([]byte("a small layer"))
	if err != nil {
		return nil, err
	}
	config, err := blob([]byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	if err != nil {
		return nil, err
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 82},
		"layers": []any{
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": fs.layer, "size": len(big)},
			map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": small, "size": 13},
		},
	})
	if fs.manifest, err = blob(m); err != nil {
		return nil, err
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": fs.manifest, "size": len(m),
			"annotations": map[string]string{annotationRefName: fs.repo + ":" + fs.tag},
		}},
	})
	for p, b := range map[string][]byte{
		"oci-layout":                           []byte(`{"imageLayoutVersion":"1.0.0"}`),
		content.IndexPath:                      index,
		"repos/base/repodata/repomd.xml":       []byte("<repomd/>\n"),
		"repos/base/Packages/a-1.0.x86_64.rpm": []byte("rpm bytes"),
		"files/docs/readme.txt":                []byte("hello\n"),
		"charts/demo-1.0.0.tgz":                []byte("chart"),
	} {
		if err := put(p, b); err != nil {
			return nil, err
		}
	}
	dc, err := content.NewDir(dir)
	if err != nil {
		return nil, err
	}
	bundlePath, err := writeFuzzBundle(dir, filepath.Join(root, "fuzz.bundle"), fs.entries)
	if err != nil {
		return nil, err
	}
	r, err := bundle.Open(bundlePath, bundle.WithChunkCache(content.ChunkCacheSize()))
	if err != nil {
		return nil, err
	}
	fs.handlers = map[string]http.Handler{}
	for name, c := range map[string]content.Content{"dir": dc, "bundle": content.NewBundle(r)} {
		srv, err := New(context.Background(), c)
		if err != nil {
			return nil, err
		}
		fs.handlers[name] = srv
	}
	return fs, nil
}

// writeFuzzBundle packs entries into an unsigned bundle file, as
// writeTestBundle does, without a testing.T.
func writeFuzzBundle(dir, out string, entries map[string][]byte) (string, error) {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	w := bundle.NewWriter(f)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "siteserver-fuzz", Version: "1.0", Platform: "linux/amd64"}
	for _, p := range paths {
		e, err := w.Add(p, int64(len(entries[p])), bytes.NewReader(entries[p]))
		if err != nil {
			return "", err
		}
		x.Artifacts = append(x.Artifacts, e.Artifact(bundleKind(p), p))
	}
	index, err := x.Marshal()
	if err != nil {
		return "", err
	}
	return out, w.Finish(index, nil)
}

// allowedStatus are the answers the server gives; anything else (a 5xx
// above all) for a request against a sound bundle is a bug.
var allowedStatus = map[int]bool{
	http.StatusOK: true, http.StatusPartialContent: true, http.StatusMovedPermanently: true,
	http.StatusNotModified: true, http.StatusBadRequest: true, http.StatusNotFound: true,
	http.StatusMethodNotAllowed: true, http.StatusRequestedRangeNotSatisfiable: true,
}

// FuzzRequestPath drives the server's handler, over the bundle file and
// over its directory, with arbitrary methods, paths, queries and Range
// headers. Every answer must be one of allowedStatus (no 5xx for anything
// a client sends), carry a body matching its Content-Length, never carry
// bytes from outside the bundle, and, for a blob or file served whole or
// in part, carry exactly the entry's bytes.
func FuzzRequestPath(f *testing.F) {
	fs := newFuzzSetup(f)
	for _, seed := range []struct{ method, path, query, rng string }{
		{"GET", "/v2/", "", ""},
		{"GET", "/v2/_catalog", "n=1&last=a", ""},
		{"GET", "/v2/" + fs.repo + "/tags/list", "n=x", ""},
		{"GET", "/v2/" + fs.repo + "/manifests/" + fs.tag, "", ""},
		{"HEAD", "/v2/" + fs.repo + "/manifests/" + fs.manifest, "", ""},
		{"GET", "/v2/" + fs.repo + "/blobs/" + fs.layer, "", "bytes=100-200"},
		{"GET", "/v2/" + fs.repo + "/blobs/" + fs.layer, "", "bytes=-1"},
		{"GET", "/v2/" + fs.repo + "/blobs/" + fs.layer, "", "bytes=999999999-"},
		{"GET", "/v2/" + fs.repo + "/blobs/sha256:zz", "", ""},
		{"GET", "/v2/" + fs.repo + "/referrers/" + fs.manifest, "artifactType=x", ""},
		{"DELETE", "/v2/" + fs.repo + "/manifests/" + fs.tag, "", ""},
		{"GET", "/v2/../../secret", "", ""},
		{"GET", "/repos/base/repodata/repomd.xml", "", "bytes=0-0"},
		{"GET", "/repos/", "", ""},
		{"GET", "/repos/base", "", ""},
		{"GET", "/repos/../secret", "", ""},
		{"GET", "/files/../../secret", "", ""},
		{"GET", "/files//docs/./readme.txt", "", ""},
		{"GET", "/charts/demo-1.0.0.tgz", "", "bytes=3-1"},
		{"GET", "/ca.crt", "", ""},
		{"POST", "/files/docs/readme.txt", "", ""},
	} {
		f.Add(seed.method, seed.path, seed.query, seed.rng)
	}
	f.Fuzz(func(t *testing.T, method, path, query, rng string) {
		for name, h := range fs.handlers {
			req := &http.Request{
				Method: method, URL: &url.URL{Path: path, RawQuery: query},
				Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Host: "seed.test", RemoteAddr: "127.0.0.1:40000",
			}
			req = req.WithContext(context.Background())
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("%s: %s %q ?%q Range %q: panic %v", name, method, path, query, rng, v)
					}
				}()
				h.ServeHTTP(rec, req)
			}()
			checkFuzzAnswer(t, fs, name, req, rec)
		}
	})
}

func checkFuzzAnswer(t *testing.T, fs *fuzzSetup, name string, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	what := fmt.Sprintf("%s: %s %q ?%q Range %q", name, req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Range"))
	if !allowedStatus[rec.Code] {
		t.Fatalf("%s: status %d\n%s", what, rec.Code, rec.Body.String())
	}
	body := rec.Body.Bytes()
	if bytes.Contains(body, []byte(fuzzSecret)) {
		t.Fatalf("%s: the answer carries a file from outside the bundle", what)
	}
	if cl := rec.Header().Get("Content-Length"); cl != "" && req.Method == http.MethodGet && rec.Code != http.StatusNotModified {
		if n, err := strconv.Atoi(cl); err != nil || n != len(body) {
			t.Fatalf("%s: Content-Length %q, body of %d bytes", what, cl, len(body))
		}
	}
	if req.Method != http.MethodGet || (rec.Code != http.StatusOK && rec.Code != http.StatusPartialContent) {
		return
	}
	// Which entry was served, if any: a blob by its digest, a file by
	// its ETag.
	var want []byte
	if d := rec.Header().Get("Docker-Content-Digest"); d != "" {
		want = fs.entries[content.BlobsPrefix+strings.TrimPrefix(d, "sha256:")]
		if want == nil {
			t.Fatalf("%s: served digest %s, which is not in the bundle", what, d)
		}
	} else if etag := rec.Header().Get("ETag"); etag != "" {
		for _, b := range fs.entries {
			sum := sha256.Sum256(b)
			if etag == `"sha256:`+hex.EncodeToString(sum[:])+`"` {
				want = b
			}
		}
		if want == nil {
			t.Fatalf("%s: ETag %s names no entry of the bundle", what, etag)
		}
	}
	if want == nil {
		return // a listing or an API answer
	}
	if rec.Code == http.StatusOK {
		if !bytes.Equal(body, want) {
			t.Fatalf("%s: the body is not the entry's bytes", what)
		}
		return
	}
	var first, last, size int
	if _, err := fmt.Sscanf(rec.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); err != nil {
		t.Fatalf("%s: Content-Range %q: %v", what, rec.Header().Get("Content-Range"), err)
	}
	if size != len(want) || first < 0 || last < first || last >= size || !bytes.Equal(body, want[first:last+1]) {
		t.Fatalf("%s: Content-Range %q does not match the body", what, rec.Header().Get("Content-Range"))
	}
}
