package siteserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/internal/fixture"
)

// testImage is one named image of the test layout.
type testImage struct {
	repo      string // as served, e.g. docker.io/library/db
	tag       string
	digest    string
	mediaType string
}

func (i testImage) ref() string { return i.repo + ":" + i.tag }

// testLayout is an extracted bundle directory built from the fixture's demo
// images, pushed to Debian's docker-registry and pulled back byte for byte.
type testLayout struct {
	dir       string
	images    []testImage
	subject   string   // the manifest the referrers point at
	referrers []string // referrer manifest digests, sorted
	bigBlob   string   // an extra blob larger than the copy buffer
}

// Served names of the demo images: one per way a name reaches the server.
var servedAs = map[string]struct{ repo, refName string }{
	"library/app":   {"registry.factory.example/library/app", "full"}, // containerd mirror test
	"library/db":    {"docker.io/library/db", "tag-only"},             // ref.name is a bare tag
	"library/multi": {"quay.io/org/multi", "full"},
	"library/logs":  {"ghcr.io/factory/logs", "full"},
	"library/web":   {"docker.io/calico/web", "full"},
}

const (
	sbomType = "application/vnd.example.sbom.v1+json"
	sigType  = "application/vnd.example.signature.v1+json"
	bigSize  = 3<<20 + 12345
)

var (
	layoutOnce   sync.Once
	sharedLayout *testLayout
	layoutErr    error
	layoutRoot   string
)

// TestMain removes the shared layout after the package's tests. Run with
// SITESERVER_HELPER set, the test binary is instead the server process
// of the load test (see serveHelper).
func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(serveHelper(spec))
	}
	code := m.Run()
	for _, dir := range []string{layoutRoot, fuzzRoot} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// newLayout returns a private copy of the shared test layout, which tests
// may damage.
func newLayout(t *testing.T) *testLayout {
	t.Helper()
	layoutOnce.Do(func() { sharedLayout, layoutErr = buildLayout() })
	if layoutErr != nil {
		t.Fatalf("building the test layout: %v", layoutErr)
	}
	l := *sharedLayout
	l.dir = t.TempDir()
	if err := os.CopyFS(l.dir, os.DirFS(sharedLayout.dir)); err != nil {
		t.Fatal(err)
	}
	return &l
}

func buildLayout() (*testLayout, error) {
	ctx := context.Background()
	reg, err := fixture.StartRegistry(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (install the Debian package docker-registry)", err)
	}
	defer reg.Close()
	pushed, err := fixture.PushDemoSet(ctx, reg.Addr())
	if err != nil {
		return nil, err
	}
	layoutRoot, err = os.MkdirTemp("", "siteserver-layout-*")
	if err != nil {
		return nil, err
	}
	l := &testLayout{dir: layoutRoot}
	p, err := layout.Write(l.dir, empty.Index)
	if err != nil {
		return nil, err
	}
	for _, img := range pushed {
		ti, err := copyImage(p, reg.Addr(), img)
		if err != nil {
			return nil, err
		}
		l.images = append(l.images, ti)
	}
	if err := l.addReferrers(p); err != nil {
		return nil, err
	}
	if err := l.addBigBlob(p); err != nil {
		return nil, err
	}
	return l, addFiles(l.dir)
}

// testFiles are the non-image entries of the test layout.
var testFiles = map[string]string{
	"repos/base/repodata/repomd.xml":          "<repomd>test</repomd>\n",
	"repos/base/Packages/tool-1.0.x86_64.rpm": "not really an rpm, but bytes with a digest\n",
	"files/docs/readme.txt":                   "hello from the bundle\n",
	"charts/demo-1.0.0.tgz":                   "chart bytes\n",
}

func addFiles(dir string) error {
	for p, body := range testFiles {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyImage pulls one pushed image from the registry into the layout,
// byte for byte, naming it as servedAs says.
func copyImage(p layout.Path, addr string, img fixture.Pushed) (testImage, error) {
	ref, err := name.ParseReference(img.Ref(addr), name.Insecure)
	if err != nil {
		return testImage{}, err
	}
	desc, err := remote.Get(ref)
	if err != nil {
		return testImage{}, err
	}
	as := servedAs[img.Repo]
	ti := testImage{repo: as.repo, tag: img.Tag, digest: desc.Digest.String(), mediaType: string(desc.MediaType)}
	refName := ti.ref()
	if as.refName == "tag-only" {
		refName = ti.tag
	}
	anns := layout.WithAnnotations(map[string]string{annotationContainerdName: ti.ref(), annotationRefName: refName})
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return ti, err
		}
		return ti, p.AppendIndex(idx, anns)
	}
	im, err := desc.Image()
	if err != nil {
		return ti, err
	}
	return ti, p.AppendImage(im, anns)
}

// addReferrers writes two unnamed artifacts whose subject is the first
// image: an SBOM and a signature.
func (l *testLayout) addReferrers(p layout.Path) error {
	subject := l.images[0]
	l.subject = subject.digest
	subjDesc := map[string]any{"mediaType": subject.mediaType, "digest": subject.digest, "size": blobSize(l.dir, subject.digest)}
	emptyDigest, err := writeBlob(p, []byte("{}"))
	if err != nil {
		return err
	}
	for _, at := range []string{sbomType, sigType} {
		payload := []byte(`{"artifact":"` + at + `"}`)
		pd, err := writeBlob(p, payload)
		if err != nil {
			return err
		}
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     string(types.OCIManifestSchema1),
			"artifactType":  at,
			"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": emptyDigest, "size": 2},
			"layers":        []any{map[string]any{"mediaType": "application/json", "digest": pd, "size": len(payload)}},
			"subject":       subjDesc,
			"annotations":   map[string]string{"org.example.kind": at},
		})
		md, err := writeBlob(p, m)
		if err != nil {
			return err
		}
		h, _ := v1.NewHash(md)
		if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: int64(len(m)), ArtifactType: at}); err != nil {
			return err
		}
		l.referrers = append(l.referrers, md)
	}
	sort.Strings(l.referrers)
	return nil
}

// addBigBlob writes a deterministic blob larger than the copy buffer, so
// corruption is detected after the status line was sent.
func (l *testLayout) addBigBlob(p layout.Path) error {
	b := make([]byte, bigSize)
	rand.New(rand.NewSource(42)).Read(b)
	d, err := writeBlob(p, b)
	l.bigBlob = d
	return err
}

func writeBlob(p layout.Path, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	return h.String(), p.WriteBlob(h, io.NopCloser(bytes.NewReader(b)))
}

func blobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func blobSize(dir, digest string) int64 {
	fi, err := os.Stat(blobPath(dir, digest))
	if err != nil {
		return -1
	}
	return fi.Size()
}

// allBlobs lists every blob digest in the layout, sorted.
func (l *testLayout) allBlobs(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(os.DirFS(l.dir), "blobs/sha256", func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			out = append(out, "sha256:"+e.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// image returns the test image served under repo.
func (l *testLayout) image(t *testing.T, repo string) testImage {
	t.Helper()
	for _, i := range l.images {
		if i.repo == repo {
			return i
		}
	}
	t.Fatalf("no test image %s", repo)
	return testImage{}
}
