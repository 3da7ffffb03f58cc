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
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// demoRegistry starts Debian's docker-registry with the demo image set, once
// per test binary.
var demoAddr string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	reg, err := fixture.StartRegistry(ctx)
	if err == nil {
		_, err = fixture.PushDemoSet(ctx, reg.Addr())
	}
	cancel()
	if err != nil {
		println("fixture registry:", err.Error())
		os.Exit(1)
	}
	demoAddr = reg.Addr()
	code := m.Run()
	reg.Close()
	os.Exit(code)
}

func demoOptions(t *testing.T, cacheDir, out string) Options {
	t.Helper()
	st, err := manifest.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Stack:    st,
		Output:   out,
		CacheDir: cacheDir,
		Mirrors:  manifest.Mirrors{"registry.factory.example": demoAddr},
	}
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (scripts/install-deps.sh)", name, pkg)
	}
	return p
}

// TestReproducibleAcrossCoresAndCache builds the demo twice: with one
// core and an empty cache, then with two cores and the cache the first
// build filled. The files must be byte-identical, and the second build
// must fetch no blob.
func TestReproducibleAcrossCoresAndCache(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	first, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "a.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if first.Fetched == 0 {
		t.Fatalf("a build with an empty cache fetched nothing: %+v", first)
	}
	runtime.GOMAXPROCS(2)
	second, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if second.Fetched != 0 {
		t.Errorf("a rebuild with a warm cache fetched %d blobs, want 0", second.Fetched)
	}
	// The cold build wrote what it downloaded with the digests computed on
	// the way in; the warm one hashed every cached object again. Equal
	// files below show both paths list the same digests.
	if first.HashedOnce < first.Fetched || second.HashedOnce != 0 {
		t.Errorf("entries hashed once: cold build %d (fetched %d), warm build %d; want at least every fetched blob, then 0", first.HashedOnce, first.Fetched, second.HashedOnce)
	}
	a, b := fileSHA(t, first.Path), fileSHA(t, second.Path)
	if a != b || first.IndexDigest != second.IndexDigest {
		t.Fatalf("builds differ: %s (GOMAXPROCS=1, cold) vs %s (GOMAXPROCS=2, warm)", a, b)
	}
}

// TestStandardToolsReadTheBundle checks the bundle with the real zstd, tar,
// skopeo and containerd's ctr.
func TestStandardToolsReadTheBundle(t *testing.T) {
	dir := t.TempDir()
	res, err := Build(context.Background(), demoOptions(t, filepath.Join(dir, "cache"), filepath.Join(dir, "demo.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	zstd := tool(t, "zstd", "zstd")
	if out, err := exec.Command(zstd, "-t", res.Path).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
	tarPath := filepath.Join(dir, "demo.tar")
	if out, err := exec.Command(zstd, "-dc", "-o", tarPath, res.Path).CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc: %v\n%s", err, out)
	}
	x := filepath.Join(dir, "x")
	os.Mkdir(x, 0o755)
	if out, err := exec.Command(tool(t, "tar", "tar"), "-xf", tarPath, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	idx := readIndex(t, filepath.Join(x, bundle.IndexName))
	for _, a := range idx.Artifacts {
		if got := "sha256:" + fileSHA(t, filepath.Join(x, a.Path)); got != a.Digest {
			t.Errorf("%s: tar gave content %s, bundle.json says %s", a.Path, got, a.Digest)
		}
	}
	t.Run("skopeo", func(t *testing.T) { skopeoInspects(t, x, idx) })
	t.Run("ctr", func(t *testing.T) { ctrImports(t, tarPath, idx) })
}

func readIndex(t *testing.T, path string) *bundle.Index {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := bundle.ParseIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// skopeoInspects reads every image whose upstream manifest is OCI from the
// extracted layout (Debian's skopeo 1.9 skips Docker v2 manifests in an OCI
// layout, so those are not asked for).
func skopeoInspects(t *testing.T, layout string, idx *bundle.Index) {
	skopeo := tool(t, "skopeo", "skopeo")
	n := 0
	for _, img := range idx.Images {
		if !strings.HasPrefix(img.MediaType, "application/vnd.oci.") {
			continue
		}
		n++
		out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+layout+":"+img.Ref).CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", img.Ref, err, out)
			continue
		}
		if sum := sha256.Sum256(bytes.TrimSpace(out)); "sha256:"+hex.EncodeToString(sum[:]) != img.Digest {
			t.Errorf("skopeo read %s with digest %x, want %s", img.Ref, sum, img.Digest)
		}
	}
	if n == 0 {
		t.Fatal("the demo bundle has no OCI image to inspect")
	}
}

// ctrImports imports the decompressed bundle, as a tar, into a private
// containerd and checks every image arrives with its upstream digest.
func ctrImports(t *testing.T, tarPath string, idx *bundle.Index) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctd, err := fixture.StartContainerd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ctd.Close()
	out, err := ctd.Ctr(ctx, "bundle", "images", "import", "--platform", idx.Platform, "--snapshotter", "native", tarPath)
	if err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	list, err := ctd.Ctr(ctx, "bundle", "images", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range idx.Images {
		found := false
		for _, line := range strings.Split(string(list), "\n") {
			if strings.HasPrefix(line, img.Name+" ") && strings.Contains(line, img.Digest) {
				found = true
			}
		}
		if !found {
			t.Errorf("ctr did not import %s with digest %s:\n%s", img.Name, img.Digest, list)
		}
	}
}

// TestSignedBundleVerifies signs with a fresh key and checks the signature
// with its public key, and that another key is refused.
func TestSignedBundleVerifies(t *testing.T) {
	dir := t.TempDir()
	priv, pub, err := signing.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.ParseSigner("test.key", priv, func() ([]byte, error) { return []byte("pw"), nil })
	if err != nil {
		t.Fatal(err)
	}
	o := demoOptions(t, filepath.Join(dir, "cache"), filepath.Join(dir, "demo.bundle"))
	o.Signer = signer
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Signed {
		t.Fatal("result says unsigned")
	}
	v, err := signing.ParseVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	check := func(v *signing.Verifier) error {
		r, err := bundle.Open(res.Path, bundle.WithIndexCheck(func(index, sig []byte) error { return v.VerifyBlob(index, sig) }))
		if err == nil {
			r.Close()
		}
		return err
	}
	if err := check(v); err != nil {
		t.Fatalf("signed bundle does not verify with its key: %v", err)
	}
	_, otherPub, _ := signing.GenerateKeyPair([]byte("x"))
	other, _ := signing.ParseVerifier(otherPub)
	if err := check(other); !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("another key: got %v, want ErrBadSignature", err)
	}
}

// TestFailedBuildLeavesNothing points the demo at a registry that lacks the
// images: the build fails naming the image, and neither the output nor a
// temporary file is left.
func TestFailedBuildLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out", "demo.bundle")
	o := demoOptions(t, filepath.Join(dir, "cache"), out)
	empty, err := fixture.StartRegistry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	o.Mirrors = manifest.Mirrors{"registry.factory.example": empty.Addr()}
	_, err = Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "registry.factory.example/library/app:1.0") {
		t.Fatalf("got %v, want an error naming the missing image", err)
	}
	left, _ := os.ReadDir(filepath.Dir(out))
	if len(left) != 0 {
		t.Fatalf("a failed build left %d files in the output directory: %v", len(left), left)
	}
}

// TestLockedBuildRefusesDrift locks the demo, edits the lock to pin another
// digest, and expects a DriftError naming the image.
func TestLockedBuildRefusesDrift(t *testing.T) {
	dir := t.TempDir()
	o := demoOptions(t, filepath.Join(dir, "cache"), filepath.Join(dir, "demo.bundle"))
	l, err := Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != len(o.Stack.Images()) {
		t.Fatalf("lock has %d images, the stack %d", len(l.Images), len(o.Stack.Images()))
	}
	o.Lock, o.Locked = l, true
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatalf("locked build with a fresh lock: %v", err)
	}
	const ref = "registry.factory.example/library/db:1.0"
	l.Images[ref] = "sha256:" + strings.Repeat("0", 64)
	_, err = Build(context.Background(), o)
	var drift *lock.DriftError
	if !errors.As(err, &drift) || len(drift.Drifts) != 1 || drift.Drifts[0].Name != ref {
		t.Fatalf("got %v, want a DriftError for %s only", err, ref)
	}
}

// TestURLFiles: a URL file is downloaded once into the cache, checked
// against its sha256, and carried under files/<component>/; a wrong sha256
// fails the build naming the URL, and stores nothing.
func TestURLFiles(t *testing.T) {
	content := []byte("tool archive bytes\n")
	sum := sha256.Sum256(content)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(content)
	}))
	defer srv.Close()
	build := func(t *testing.T, dir, cache, sha string) (*Result, error) {
		m := fmt.Sprintf(`apiVersion: appliance/v1
kind: Stack
metadata: {name: urlfiles, version: 1.0.0}
spec:
  components:
    - name: tools
      files:
        - url: %s/tool.tar.gz
          sha256: %s
`, srv.URL, sha)
		path := filepath.Join(dir, "stack.yaml")
		os.WriteFile(path, []byte(m), 0o644)
		st, err := manifest.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return Build(context.Background(), Options{Stack: st, Output: filepath.Join(dir, "out.bundle"), CacheDir: cache})
	}
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	res, err := build(t, dir, cache, hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, ok := r.Lookup("files/tools/tool.tar.gz")
	if !ok || a.Digest != "sha256:"+hex.EncodeToString(sum[:]) || a.Annotations[bundle.AnnotationSource] != srv.URL+"/tool.tar.gz" {
		t.Fatalf("files/tools/tool.tar.gz: %+v (found %v)", a, ok)
	}
	if _, err := build(t, dir, cache, hex.EncodeToString(sum[:])); err != nil || hits.Load() != 1 {
		t.Fatalf("rebuild: err %v, %d downloads, want 1", err, hits.Load())
	}
	wrong := strings.Repeat("ab", 32)
	_, err = build(t, t.TempDir(), filepath.Join(t.TempDir(), "cache"), wrong)
	if err == nil || !strings.Contains(err.Error(), srv.URL+"/tool.tar.gz") || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("wrong sha256: got %v, want a digest error naming the URL", err)
	}
}

// TestDamagedCacheObject: a cached layer whose bytes changed on disk fails
// the build naming it, is removed from the cache, and the next build fetches
// it anew and succeeds.
func TestDamagedCacheObject(t *testing.T) {
	noPacks = true // layers go into the cache as files, as across filesystems
	t.Cleanup(func() { noPacks = false })
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	first, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "a.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	var layer bundle.Artifact
	for _, a := range r.Index().Artifacts {
		if a.Kind == bundle.KindBlob && a.Size > layer.Size {
			layer = a
		}
	}
	r.Close()
	obj := filepath.Join(cache, "sha256", strings.TrimPrefix(layer.Digest, "sha256:"))
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x55
	os.WriteFile(obj, data, 0o644)
	_, err = Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err == nil || !strings.Contains(err.Error(), layer.Digest) || !strings.Contains(err.Error(), "run the build again") {
		t.Fatalf("got %v, want an error naming the damaged %s", err, layer.Digest)
	}
	if _, err := os.Stat(obj); !os.IsNotExist(err) {
		t.Fatalf("the damaged object is still in the cache: %v", err)
	}
	again, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if again.Fetched != 1 || fileSHA(t, again.Path) != fileSHA(t, first.Path) {
		t.Fatalf("rebuild fetched %d blobs (want 1) or differs from the first build", again.Fetched)
	}
}

// TestUnlockedBuildNamesMissingImage: an unlocked build of a stack whose
// image its registry lacks says so as bundle lock does: at the manifest
// line that names the image, with the fix.
func TestUnlockedBuildNamesMissingImage(t *testing.T) {
	dir := t.TempDir()
	o := demoOptions(t, filepath.Join(dir, "cache"), filepath.Join(dir, "demo.bundle"))
	empty, err := fixture.StartRegistry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	o.Mirrors = manifest.Mirrors{"registry.factory.example": empty.Addr()}
	_, err = Build(context.Background(), o)
	if err == nil {
		t.Fatal("a build with every image missing succeeded")
	}
	for _, r := range o.Stack.Images() {
		want := r.Source.String() + ": image " + r.Ref + " is not in its registry (fetched from " + empty.Addr()
		if r.Source.Line == 0 || !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "fix the reference or push the image") {
		t.Errorf("the error lacks the fix:\n%v", err)
	}
}
