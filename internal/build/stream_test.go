package build

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/seekable"
	"github.com/factory-appliance/appliance/manifest"
)

// largestLayer is the largest blob artifact of the bundle at path.
func largestLayer(t *testing.T, path string) bundle.Artifact {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var layer bundle.Artifact
	for _, a := range r.Index().Artifacts {
		if a.Kind == bundle.KindBlob && a.Size > layer.Size {
			layer = a
		}
	}
	return layer
}

// packFiles lists the cache's packs directory.
func packFiles(t *testing.T, cache string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(cache, "packs", "*"))
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// TestStreamedBuildFillsTheCache: a cold build streams its layers into the
// bundle and stores none of them in the cache as files; the cache keeps
// the bundle instead, so that a warm build, even after the bundle was
// deleted, fetches nothing and writes the same bytes, and so does a build
// that stores every layer in the cache first (as across filesystems).
func TestStreamedBuildFillsTheCache(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	cold, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "a.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	want := fileSHA(t, cold.Path)
	layer := largestLayer(t, cold.Path)
	if _, err := os.Stat(filepath.Join(cache, "sha256", strings.TrimPrefix(layer.Digest, "sha256:"))); !os.IsNotExist(err) {
		t.Errorf("the streamed layer %s is also a file of the cache (%v)", layer.Digest, err)
	}
	if cold.Fetched == 0 || len(packFiles(t, cache)) != 2 {
		t.Fatalf("cold build fetched %d blobs; packs %v, want a bundle and its list", cold.Fetched, packFiles(t, cache))
	}
	if err := os.Remove(cold.Path); err != nil {
		t.Fatal(err)
	}
	warm, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if warm.Fetched != 0 || fileSHA(t, warm.Path) != want {
		t.Fatalf("warm build from the kept bundle fetched %d blobs, same file %v", warm.Fetched, fileSHA(t, warm.Path) == want)
	}
	// A warm build streams nothing and keeps no second bundle.
	if n := len(packFiles(t, cache)); n != 2 {
		t.Errorf("packs after the warm build: %v", packFiles(t, cache))
	}
	noPacks = true
	t.Cleanup(func() { noPacks = false })
	stored, err := Build(context.Background(), demoOptions(t, filepath.Join(dir, "cache2"), filepath.Join(dir, "c.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if stored.Fetched == 0 || fileSHA(t, stored.Path) != want {
		t.Fatalf("a build through the cache's files differs from the streamed one (fetched %d)", stored.Fetched)
	}
	if cold.Fetched != stored.Fetched || cold.Cached != stored.Cached {
		t.Errorf("streamed build: %d fetched, %d cached; through the cache's files: %d, %d", cold.Fetched, cold.Cached, stored.Fetched, stored.Cached)
	}
}

// TestStreamedSplitBundle: a split bundle streamed cold and built again
// warm from the kept parts are the same parts.
func TestStreamedSplitBundle(t *testing.T) {
	dir := t.TempDir()
	whole, err := Build(context.Background(), demoOptions(t, filepath.Join(dir, "scratch"), filepath.Join(dir, "whole.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	size := whole.Size / 3
	sr, f := openFrames(t, whole.Path)
	for i := range sr.NumFrames() {
		size = max(size, sr.Frame(i).CompressedSize)
	}
	sr.Close()
	f.Close()
	minSplit = 64 << 10
	t.Cleanup(func() { minSplit = MinSplit })
	cache := filepath.Join(dir, "cache")
	o := demoOptions(t, cache, filepath.Join(dir, "a.bundle"))
	o.Split = size
	cold, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(cold.Parts) < 2 {
		t.Fatalf("split into %d parts", len(cold.Parts))
	}
	o.Output = filepath.Join(dir, "b.bundle")
	warm, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if warm.Fetched != 0 || len(warm.Parts) != len(cold.Parts) {
		t.Fatalf("warm build fetched %d, %d parts (cold %d)", warm.Fetched, len(warm.Parts), len(cold.Parts))
	}
	for i := range cold.Parts {
		if fileSHA(t, cold.Parts[i]) != fileSHA(t, warm.Parts[i]) {
			t.Errorf("part %d differs", i+1)
		}
	}
}

// TestStreamedBadDownload: a registry that serves other bytes for a layer
// fails the build naming the image, the layer and the way out; neither a
// bundle nor a temporary file is left, and the cache keeps nothing of the
// layer, so the next build (from a good registry) succeeds.
func TestStreamedBadDownload(t *testing.T) {
	dir := t.TempDir()
	ref, err := Build(context.Background(), demoOptions(t, filepath.Join(dir, "ref-cache"), filepath.Join(dir, "ref.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	layer := largestLayer(t, ref.Path)
	u, _ := url.Parse("http://" + demoAddr)
	rp := httputil.NewSingleHostReverseProxy(u)
	var bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest) {
			bad.Add(1)
			w.Header().Set("Content-Length", itoa(layer.Size))
			w.Write(bytes.Repeat([]byte{'x'}, int(layer.Size)))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "out", "demo.bundle")
	o := demoOptions(t, cache, out)
	o.Mirrors = manifest.Mirrors{"registry.factory.example": strings.TrimPrefix(srv.URL, "http://")}
	_, err = Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), layer.Digest) || !strings.Contains(err.Error(), "image registry.factory.example/") ||
		!strings.Contains(err.Error(), "run the build again") {
		t.Fatalf("got %v, want an error naming the image, the layer %s and the fix", err, layer.Digest)
	}
	if bad.Load() == 0 {
		t.Fatal("the bad layer was never requested")
	}
	left, _ := os.ReadDir(filepath.Dir(out))
	if len(left) != 0 {
		t.Fatalf("a failed build left %d files in the output directory: %v", len(left), left)
	}
	if n := packFiles(t, cache); len(n) != 0 {
		t.Errorf("the failed build left packs: %v", n)
	}
	if _, err := os.Stat(filepath.Join(cache, "sha256", strings.TrimPrefix(layer.Digest, "sha256:"))); !os.IsNotExist(err) {
		t.Errorf("the bad layer is in the cache (%v)", err)
	}
	again, err := Build(context.Background(), demoOptions(t, cache, out))
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, again.Path) != fileSHA(t, ref.Path) {
		t.Error("the build after the bad download differs from a clean one")
	}
}

// TestDamagedPack: a layer whose bytes changed inside the bundle the cache
// keeps fails the next build naming it, is taken off the cache, and the
// build after that downloads it and succeeds.
func TestDamagedPack(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	first, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "a.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	want := fileSHA(t, first.Path)
	layer := largestLayer(t, first.Path)
	// Flip a byte in the middle of one of the layer's frames.
	sr, f := openFrames(t, first.Path)
	i, ok := sr.FrameAt(layer.Offset + layer.Size/2)
	if !ok {
		t.Fatal("no frame holds the layer")
	}
	fr := sr.Frame(i)
	sr.Close()
	f.Close()
	data, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	data[fr.Offset+fr.CompressedSize/2] ^= 0x55
	// Write in place: the pack is a hard link to the bundle.
	w, err := os.OpenFile(first.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err = Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err == nil || !strings.Contains(err.Error(), layer.Digest) || !strings.Contains(err.Error(), "run the build again") {
		t.Fatalf("got %v, want an error naming the damaged %s", err, layer.Digest)
	}
	again, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "b.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if again.Fetched != 1 || fileSHA(t, again.Path) != want {
		t.Fatalf("rebuild fetched %d blobs (want 1) or differs from the first build", again.Fetched)
	}
}

// TestPacksDoNotPileUp: keeping a new bundle drops the older ones, after
// taking into the cache, as files, the blobs only they held; the first
// stack then builds again without a download.
func TestPacksDoNotPileUp(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	noTools := demoOptions(t, cache, filepath.Join(dir, "a.bundle"))
	onlyTools := demoOptions(t, cache, filepath.Join(dir, "b.bundle"))
	for i := range noTools.Stack.Spec.Components {
		if noTools.Stack.Spec.Components[i].Name == "tools" {
			noTools.Stack.Spec.Components[i].Images = nil
		} else {
			onlyTools.Stack.Spec.Components[i].Images = nil
		}
	}
	a, err := Build(context.Background(), noTools)
	if err != nil {
		t.Fatal(err)
	}
	want := fileSHA(t, a.Path)
	b, err := Build(context.Background(), onlyTools)
	if err != nil {
		t.Fatal(err)
	}
	if a.Fetched == 0 || b.Fetched == 0 {
		t.Fatalf("fetched %d then %d blobs", a.Fetched, b.Fetched)
	}
	if n := packFiles(t, cache); len(n) != 2 {
		t.Fatalf("packs after two streamed builds: %v, want one bundle and its list", n)
	}
	layer := largestLayer(t, a.Path)
	if _, err := os.Stat(filepath.Join(cache, "sha256", strings.TrimPrefix(layer.Digest, "sha256:"))); err != nil {
		t.Fatalf("the first bundle's layer was not taken into the cache: %v", err)
	}
	os.Remove(a.Path)
	noTools.Output = filepath.Join(dir, "c.bundle")
	c, err := Build(context.Background(), noTools)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fetched != 0 || fileSHA(t, c.Path) != want {
		t.Fatalf("the first stack again fetched %d blobs, same file %v", c.Fetched, fileSHA(t, c.Path) == want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// openFrames opens the seek table of the bundle file at path.
func openFrames(t *testing.T, path string) (*seekable.Reader, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	sr, err := seekable.NewReader(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return sr, f
}

// TestFailedStreamedBuildKeepsItsLayers: a build that fails on an image
// its registry lacks, after streaming the layers of the images before it,
// leaves nothing at the output, and the cache keeps those layers, so the
// build of the fixed stack downloads none of them again.
func TestFailedStreamedBuildKeepsItsLayers(t *testing.T) {
	dir := t.TempDir()
	ref, err := Build(context.Background(), demoOptions(t, filepath.Join(dir, "ref-cache"), filepath.Join(dir, "ref.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	out := filepath.Join(dir, "out", "demo.bundle")
	o := demoOptions(t, cache, out)
	last := &o.Stack.Spec.Components[len(o.Stack.Spec.Components)-1]
	nope := last.Images[0]
	nope.Ref = strings.Replace(nope.Ref, nope.Repository, "library/nope", 1)
	nope.Canonical = strings.Replace(nope.Canonical, nope.Repository, "library/nope", 1)
	nope.Repository = "library/nope"
	last.Images = append(last.Images, nope)
	_, err = Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "library/nope") {
		t.Fatalf("got %v, want an error naming the missing image", err)
	}
	left, _ := os.ReadDir(filepath.Dir(out))
	if len(left) != 0 {
		t.Fatalf("a failed build left %d files in the output directory: %v", len(left), left)
	}
	if n := packFiles(t, cache); len(n) != 2 {
		t.Fatalf("packs after the failed build: %v, want the bundle so far and its list", n)
	}
	again, err := Build(context.Background(), demoOptions(t, cache, out))
	if err != nil {
		t.Fatal(err)
	}
	if again.Fetched != 0 || fileSHA(t, again.Path) != fileSHA(t, ref.Path) {
		t.Fatalf("the fixed build fetched %d blobs (want 0), same file %v", again.Fetched, fileSHA(t, again.Path) == fileSHA(t, ref.Path))
	}
	if n := packFiles(t, cache); len(n) != 2 {
		t.Errorf("packs after the fixed build: %v, want one bundle and its list", n)
	}
}
