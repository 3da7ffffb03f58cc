// Package bundletest builds small bundles with bundle.Writer for the tests
// of the packages that read them (inspect, extract, split): the standard
// test bundle (two images sharing a three-chunk layer, an empty file, a
// path that needs PAX, compressible text), random content, and a check of
// an extracted tree. Package bundle's own tests keep their copy, since
// they cannot import this package. For tests only.
package bundletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// Entry is one entry of a test bundle.
type Entry struct {
	Kind, Name, Path string
	Data             []byte
}

// RandomBytes returns n bytes that do not compress, the same for the same
// seed.
func RandomBytes(seed uint64, n int) []byte {
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

// Sha returns b's digest, "sha256:<hex>".
func Sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// BlobPath returns where b is stored as a blob of the OCI layout.
func BlobPath(b []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(Sha(b), "sha256:")
}

// Manifest returns an OCI image manifest referencing config and layers, as
// JSON.
func Manifest(config []byte, layers ...[]byte) []byte {
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
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", Sha(config), len(config)}, nil}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", Sha(l), len(l)})
	}
	b, _ := json.Marshal(m)
	return b
}

// StandardEntries is a small bundle's content: two images sharing a 9 MiB
// layer (three chunks), an empty file, a long path that needs PAX, and
// compressible text, sorted by path; and the two images.
func StandardEntries() ([]Entry, []bundle.Image) {
	shared := RandomBytes(1, 9<<20+123)
	own := RandomBytes(2, 70<<10)
	cfgA, cfgB := []byte(`{"architecture":"amd64","os":"linux","a":1}`), []byte(`{"architecture":"amd64","os":"linux","b":2}`)
	manA, manB := Manifest(cfgA, shared), Manifest(cfgB, shared, own)
	text := bytes.Repeat([]byte("key: value\nother: thing\n"), 20000)
	long := "files/" + strings.Repeat("very-long-directory-name/", 5) + strings.Repeat("x", 120) + ".conf"
	entries := []Entry{
		{bundle.KindLayout, bundle.OCILayoutName, bundle.OCILayoutName, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{bundle.KindLayout, bundle.OCIIndexName, bundle.OCIIndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{bundle.KindConfig, Sha(cfgA), BlobPath(cfgA), cfgA},
		{bundle.KindConfig, Sha(cfgB), BlobPath(cfgB), cfgB},
		{bundle.KindManifest, "a:1", BlobPath(manA), manA},
		{bundle.KindManifest, "b:1", BlobPath(manB), manB},
		{bundle.KindBlob, Sha(shared), BlobPath(shared), shared},
		{bundle.KindBlob, Sha(own), BlobPath(own), own},
		{bundle.KindFile, "empty", "files/empty", nil},
		{bundle.KindFile, "long", long, []byte("long path\n")},
		{bundle.KindRepodata, "primary", "repos/base/repodata/primary.xml", text},
	}
	SortEntries(entries)
	images := []bundle.Image{
		{Ref: "registry.local/a:1", Name: "registry.local/a:1", Digest: Sha(manA), MediaType: "application/vnd.oci.image.manifest.v1+json", Component: "app"},
		{Ref: "registry.local/b:1", Name: "registry.local/b:1", Digest: Sha(manB), MediaType: "application/vnd.oci.image.manifest.v1+json", Component: "app"},
	}
	return entries, images
}

// SortEntries sorts entries by path, the order a bundle stores them in.
func SortEntries(e []Entry) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].Path < e[j-1].Path; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

// Write writes entries in order, in a bundle named "test" 1.0 with one
// component "app" of the two standard images, signed with sig (unsigned
// when nil), and returns the file.
func Write(t testing.TB, entries []Entry, images []bundle.Image, sig []byte, opts ...bundle.Option) []byte {
	t.Helper()
	var out bytes.Buffer
	w := bundle.NewWriter(&out, opts...)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "test", Version: "1.0", Platform: "linux/amd64", Images: images,
		Components: []bundle.Component{{Name: "app", Images: []string{"registry.local/b:1", "registry.local/a:1"}}}}
	for _, e := range entries {
		got, err := w.Add(e.Path, int64(len(e.Data)), bytes.NewReader(e.Data))
		if err != nil {
			t.Fatalf("Add %s: %v", e.Path, err)
		}
		x.Artifacts = append(x.Artifacts, got.Artifact(e.Kind, e.Name))
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

// Open opens the bundle b, closing it when the test ends.
func Open(t testing.TB, b []byte, opts ...bundle.OpenOption) *bundle.Reader {
	t.Helper()
	r, err := bundle.NewReader(bytes.NewReader(b), int64(len(b)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// CheckTree asserts that dir holds exactly the files in want, each a
// regular file.
func CheckTree(t testing.TB, dir string, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			t.Errorf("%s is not a regular file", p)
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		if g, ok := got[p]; !ok || !bytes.Equal(g, b) {
			t.Errorf("%s: missing or different (present %v)", p, ok)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected file %s", p)
		}
	}
}
