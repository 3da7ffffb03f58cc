package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
)

// testEntry is one entry of a test bundle.
type testEntry struct {
	kind, name, path string
	data             []byte
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func blobPath(b []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(sha(b), "sha256:")
}

// testImage returns a manifest referencing config and layers, as JSON.
func testManifest(config []byte, layers ...[]byte) []byte {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", sha(config), len(config)}, nil}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", sha(l), len(l)})
	}
	b, _ := json.Marshal(m)
	return b
}

// standardEntries is a small bundle's content: two images sharing a 9 MiB
// layer (three chunks), an empty file, a long path that needs PAX, and
// compressible text.
func standardEntries() ([]testEntry, []Image) {
	shared := randomBytes(1, 9<<20+123)
	own := randomBytes(2, 70<<10)
	cfgA, cfgB := []byte(`{"architecture":"amd64","os":"linux","a":1}`), []byte(`{"architecture":"amd64","os":"linux","b":2}`)
	manA, manB := testManifest(cfgA, shared), testManifest(cfgB, shared, own)
	text := bytes.Repeat([]byte("key: value\nother: thing\n"), 20000)
	long := "files/" + strings.Repeat("very-long-directory-name/", 5) + strings.Repeat("x", 120) + ".conf"
	entries := []testEntry{
		{KindLayout, OCILayoutName, OCILayoutName, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{KindLayout, OCIIndexName, OCIIndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{KindConfig, sha(cfgA), blobPath(cfgA), cfgA},
		{KindConfig, sha(cfgB), blobPath(cfgB), cfgB},
		{KindManifest, "a:1", blobPath(manA), manA},
		{KindManifest, "b:1", blobPath(manB), manB},
		{KindBlob, sha(shared), blobPath(shared), shared},
		{KindBlob, sha(own), blobPath(own), own},
		{KindFile, "empty", "files/empty", nil},
		{KindFile, "long", long, []byte("long path\n")},
		{KindRepodata, "primary", "repos/base/repodata/primary.xml", text},
	}
	sortEntries(entries)
	images := []Image{
		{Ref: "registry.local/a:1", Name: "registry.local/a:1", Digest: sha(manA), MediaType: "application/vnd.oci.image.manifest.v1+json", Component: "app"},
		{Ref: "registry.local/b:1", Name: "registry.local/b:1", Digest: sha(manB), MediaType: "application/vnd.oci.image.manifest.v1+json", Component: "app"},
	}
	return entries, images
}

func sortEntries(e []testEntry) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].path < e[j-1].path; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// writeBundle writes entries in order and returns the file.
func writeBundle(t testing.TB, entries []testEntry, images []Image, sig []byte, opts ...Option) []byte {
	t.Helper()
	add := func(w *Writer, e testEntry) (Entry, error) {
		return w.Add(e.path, int64(len(e.data)), bytes.NewReader(e.data))
	}
	return writeBundleWith(t, entries, images, sig, add, opts...)
}

// writeBundleWith is writeBundle with add writing each entry.
func writeBundleWith(t testing.TB, entries []testEntry, images []Image, sig []byte, add func(*Writer, testEntry) (Entry, error), opts ...Option) []byte {
	t.Helper()
	var out bytes.Buffer
	w := NewWriter(&out, opts...)
	x := &Index{SchemaVersion: SchemaVersion, Name: "test", Version: "1.0", Platform: "linux/amd64", Images: images,
		Components: []Component{{Name: "app", Images: []string{"registry.local/b:1", "registry.local/a:1"}}}}
	for _, e := range entries {
		got, err := add(w, e)
		if err != nil {
			t.Fatalf("Add %s: %v", e.path, err)
		}
		x.Artifacts = append(x.Artifacts, got.Artifact(e.kind, e.name))
	}
	index, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(index, sig); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func openBytes(t testing.TB, b []byte, opts ...OpenOption) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	ra io.ReaderAt
	n  atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}
