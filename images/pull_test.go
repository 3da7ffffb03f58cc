package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fixture"
)

func TestPullByTagDigestAndPin(t *testing.T) {
	reg, pushed := demoRegistry(t)
	ctx := context.Background()
	for _, repoTag := range []string{"library/app:1.0", "library/db:1.0", "library/logs:1.0"} {
		want := pushed[repoTag]
		repo, _, _ := strings.Cut(repoTag, ":")
		cases := []struct{ name, ref, pin string }{
			{"tag", ref(reg.Addr(), repoTag), ""},
			{"digest", ref(reg.Addr(), repo+"@"+want.Digest), ""},
			{"tag and pin", ref(reg.Addr(), repoTag), want.Digest},
			{"tag@digest", ref(reg.Addr(), repoTag+"@"+want.Digest), ""},
		}
		for _, c := range cases {
			t.Run(repoTag+"/"+c.name, func(t *testing.T) {
				cache := newCache(t)
				img, err := newTestPuller(t, cache).Pull(ctx, c.ref, c.pin)
				if err != nil {
					t.Fatal(err)
				}
				if img.Digest != want.Digest || img.MediaType != want.MediaType {
					t.Errorf("got %s %s, pushed %s %s", img.Digest, img.MediaType, want.Digest, want.MediaType)
				}
				if img.Ref != c.ref {
					t.Errorf("Ref = %q, want the reference as written %q", img.Ref, c.ref)
				}
				if img.Platform != "linux/amd64" {
					t.Errorf("Platform = %q, want linux/amd64 read from the config", img.Platform)
				}
				assertCached(t, cache, img)
			})
		}
	}
}

func TestPullWrongPinFails(t *testing.T) {
	reg, pushed := demoRegistry(t)
	cache := newCache(t)
	_, err := newTestPuller(t, cache).Pull(context.Background(), ref(reg.Addr(), "library/app:1.0"), pushed["library/db:1.0"].Digest)
	if err == nil {
		t.Fatal("pulling app pinned to db's digest succeeded")
	}
	if _, ok := cache.Has(pushed["library/db:1.0"].Digest); ok {
		t.Error("a manifest was stored under the pin it does not match")
	}
}

// assertCached checks every blob of img is in the cache with its size and
// that the content hashes to its digest.
func assertCached(t *testing.T, cache *cas.Store, img *Image) {
	t.Helper()
	if len(img.Layers) == 0 || img.Config.Digest == "" {
		t.Fatalf("image %s has no config or layers", img.Name)
	}
	for _, b := range img.Blobs() {
		rc, size, err := cache.Open(b.Digest)
		if err != nil {
			t.Fatalf("blob %s of %s not cached: %v", b.Digest, img.Name, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("blob %s: %v", b.Digest, err)
		}
		rc.Close()
		if size != b.Size {
			t.Errorf("blob %s: cached %d bytes, descriptor says %d", b.Digest, size, b.Size)
		}
	}
}

func TestPlatformSelection(t *testing.T) {
	reg, pushed := demoRegistry(t)
	cases := []struct {
		repoTag, platform, want string
	}{
		{"library/multi:1.0", "linux/amd64", "linux/amd64"},
		{"library/multi:1.0", "linux/arm64", "linux/arm64/v8"},
		{"library/web:1.0", "linux/amd64", "linux/amd64"},
		{"library/web:1.0", "linux/arm64/v8", "linux/arm64/v8"},
		{"library/web:1.0", "linux/s390x", ""},
	}
	for _, c := range cases {
		t.Run(c.repoTag+"/"+c.platform, func(t *testing.T) {
			cache := newCache(t)
			img, err := newTestPuller(t, cache, WithPlatform(c.platform)).Pull(context.Background(), ref(reg.Addr(), c.repoTag), "")
			if c.want == "" {
				if !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
					t.Fatalf("err = %v, want ErrNoPlatform listing the platforms", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Platform != c.want || img.Digest != pushed[c.repoTag].Digest || len(img.Manifests) != 2 {
				t.Fatalf("got platform %s digest %s with %d manifests", img.Platform, img.Digest, len(img.Manifests))
			}
			if img.Manifests[0].Digest != img.Digest {
				t.Errorf("first manifest %s is not the index %s", img.Manifests[0].Digest, img.Digest)
			}
			assertCached(t, cache, img)
		})
	}
}

func TestManifestsAreByteIdentical(t *testing.T) {
	reg, pushed := demoRegistry(t)
	cache := newCache(t)
	p := newTestPuller(t, cache)
	for repoTag, want := range pushed {
		img, err := p.Pull(context.Background(), ref(reg.Addr(), repoTag), "")
		if err != nil {
			t.Fatal(err)
		}
		repo, tag, _ := strings.Cut(repoTag, ":")
		served := rawGet(t, reg.URL()+"/v2/"+repo+"/manifests/"+tag, want.MediaType)
		stored := readCache(t, cache, img.Digest)
		if !bytes.Equal(served, stored) {
			t.Errorf("%s: stored manifest differs from the served bytes", repoTag)
		}
		if sum := sha256.Sum256(stored); "sha256:"+hex.EncodeToString(sum[:]) != want.Digest {
			t.Errorf("%s: stored manifest does not hash to the registry digest %s", repoTag, want.Digest)
		}
	}
}

func rawGet(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return b
}

func readCache(t *testing.T, cache *cas.Store, digest string) []byte {
	t.Helper()
	rc, _, err := cache.Open(digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSharedLayerFetchedOnce(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	cache := newCache(t)
	p := newTestPuller(t, cache, WithConcurrency(2, 4))
	imgs, err := p.PullAll(context.Background(), []Request{
		{Ref: ref(px.addr(), "library/app:1.0")}, {Ref: ref(px.addr(), "library/db:1.0")},
	})
	if err != nil {
		t.Fatal(err)
	}
	shared := sharedLayers(imgs[0], imgs[1])
	if len(shared) == 0 {
		t.Fatal("app and db share no layer; the demo set should make them share the base layer")
	}
	for d, n := range px.blobGets() {
		if n != 1 {
			t.Errorf("blob %s was requested %d times", d, n)
		}
	}
	for _, d := range shared {
		if px.blobGets()[d] != 1 {
			t.Errorf("shared layer %s requested %d times, want 1", d, px.blobGets()[d])
		}
	}
}

func sharedLayers(a, b *Image) []string {
	var out []string
	for _, la := range a.Layers {
		for _, lb := range b.Layers {
			if la.Digest == lb.Digest {
				out = append(out, la.Digest)
			}
		}
	}
	return out
}

func demoRequests(addr string) []Request {
	var reqs []Request
	for _, rt := range []string{"library/app:1.0", "library/db:1.0", "library/multi:1.0", "library/logs:1.0", "library/web:1.0"} {
		reqs = append(reqs, Request{Ref: ref(addr, rt)})
	}
	return reqs
}

func TestWarmCacheMakesNoBlobRequests(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	cache := newCache(t)
	ctx := context.Background()
	cold, err := newTestPuller(t, cache).PullAll(ctx, demoRequests(px.addr()))
	if err != nil {
		t.Fatal(err)
	}
	if len(px.blobGets()) == 0 {
		t.Fatal("the cold pull made no blob requests through the proxy")
	}
	px.reset()
	var mu sync.Mutex
	final := map[string]ImageProgress{}
	warmPuller := newTestPuller(t, cache, WithProgress(ProgressFunc(func(ev ImageProgress) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Done {
			final[ev.Image] = ev
		}
	})))
	warm, err := warmPuller.PullAll(ctx, demoRequests(px.addr()))
	if err != nil {
		t.Fatal(err)
	}
	if gets := px.blobGets(); len(gets) != 0 {
		t.Errorf("warm rebuild requested blobs: %v", gets)
	}
	for i := range cold {
		if cold[i].Digest != warm[i].Digest {
			t.Errorf("%s: cold %s, warm %s", cold[i].Name, cold[i].Digest, warm[i].Digest)
		}
		ev := final[warm[i].Name]
		if !ev.Done || ev.Err != nil || ev.BlobsCached != ev.BlobsTotal || ev.BlobsFetched != 0 || ev.BytesDone != ev.BytesTotal || ev.BytesTotal == 0 {
			t.Errorf("%s: final progress %+v, want every blob cached", warm[i].Name, ev)
		}
	}
}

func TestPinnedPullWithWarmCacheUsesNoNetwork(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	cache := newCache(t)
	ctx := context.Background()
	want := pushed["library/multi:1.0"]
	if _, err := newTestPuller(t, cache).Pull(ctx, ref(px.addr(), "library/multi:1.0"), want.Digest); err != nil {
		t.Fatal(err)
	}
	px.reset()
	p := newTestPuller(t, cache)
	img, err := p.Pull(ctx, ref(px.addr(), "library/multi:1.0"), want.Digest)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Resolve(ctx, ref(px.addr(), "library/multi@"+want.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if n := px.requests(); n != 0 {
		t.Errorf("pinned pull and resolve with a warm cache made %d requests", n)
	}
	if img.Digest != want.Digest || d.Digest != want.Digest || d.MediaType != want.MediaType {
		t.Errorf("got image %s, resolved %+v, want %s", img.Digest, d, want.Digest)
	}
}

func TestResolve(t *testing.T) {
	reg, pushed := demoRegistry(t)
	p := newTestPuller(t, newCache(t))
	for repoTag, want := range pushed {
		d, err := p.Resolve(context.Background(), ref(reg.Addr(), repoTag))
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest != want.Digest || d.MediaType != want.MediaType || d.Size <= 0 {
			t.Errorf("%s resolved to %+v, pushed %+v", repoTag, d, want)
		}
	}
	_, err := p.Resolve(context.Background(), ref(reg.Addr(), "library/absent:1.0"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("resolving a missing image: %v, want ErrNotFound", err)
	}
}

func TestMirrorKeepsCanonicalName(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	cases := []struct{ ref, name string }{
		{"docker.io/library/app:1.0", "docker.io/library/app:1.0"},
		{"app:1.0", "docker.io/library/app:1.0"},
		{"index.docker.io/library/db:1.0", "docker.io/library/db:1.0"},
	}
	for _, c := range cases {
		t.Run(c.ref, func(t *testing.T) {
			px.reset()
			p := newTestPuller(t, newCache(t), WithMirror("docker.io", px.addr()))
			img, err := p.Pull(context.Background(), c.ref, "")
			if err != nil {
				t.Fatal(err)
			}
			repoTag := strings.TrimPrefix(c.name, "docker.io/")
			if img.Name != c.name || img.Ref != c.ref || img.Digest != pushed[repoTag].Digest {
				t.Errorf("got name %q ref %q digest %s", img.Name, img.Ref, img.Digest)
			}
			repo, tag, _ := strings.Cut(repoTag, ":")
			if px.count("GET /v2/"+repo+"/manifests/"+tag) != 1 {
				t.Errorf("the mirror did not serve /v2/%s/manifests/%s: %v", repo, tag, px.requests())
			}
		})
	}
}

func TestNotFoundNamesTheImage(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	r := ref(px.addr(), "library/nope:1.0")
	_, err := newTestPuller(t, newCache(t)).Pull(context.Background(), r, "")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "/library/nope:1.0") {
		t.Fatalf("err = %v, want ErrNotFound naming the image", err)
	}
	if n := px.count("GET /v2/library/nope/manifests/1.0"); n != 1 {
		t.Errorf("a 404 was requested %d times; it must not be retried", n)
	}
}

func TestCorruptBlobIsRefusedAndNotStored(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	cache := newCache(t)
	target := layerOf(t, reg.Addr(), "library/db:1.0", pushed)
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+target.Digest) {
			return false
		}
		w.Header().Set("Content-Length", itoa(target.Size))
		w.Write(bytes.Repeat([]byte{'x'}, int(target.Size)))
		return true
	})
	_, err := newTestPuller(t, cache).Pull(context.Background(), ref(px.addr(), "library/db:1.0"), "")
	var derr *cas.DigestError
	if !errors.As(err, &derr) || derr.Expected != target.Digest {
		t.Fatalf("err = %v, want a *cas.DigestError for %s", err, target.Digest)
	}
	if _, ok := cache.Has(target.Digest); ok {
		t.Error("the corrupt blob was stored")
	}
	entries, _ := os.ReadDir(cache.Dir() + "/sha256")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the cache", e.Name())
		}
	}
}

// layerOf pulls repoTag into a scratch cache and returns its last layer.
func layerOf(t *testing.T, addr, repoTag string, _ map[string]fixture.Pushed) Blob {
	t.Helper()
	img, err := newTestPuller(t, newCache(t)).Pull(context.Background(), ref(addr, repoTag), "")
	if err != nil {
		t.Fatal(err)
	}
	return img.Layers[len(img.Layers)-1]
}

func TestRetriesTransientErrors(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	target := layerOf(t, reg.Addr(), "library/app:1.0", pushed)
	var mu sync.Mutex
	failures := 2
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 && strings.HasSuffix(r.URL.Path, "/blobs/"+target.Digest) {
			failures--
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	img, err := newTestPuller(t, newCache(t)).Pull(context.Background(), ref(px.addr(), "library/app:1.0"), "")
	if err != nil {
		t.Fatalf("pull through two 503s: %v", err)
	}
	if n := px.blobGets()[target.Digest]; n != 3 {
		t.Errorf("layer requested %d times, want 3 (two 503s, then success)", n)
	}
	if img.Digest != pushed["library/app:1.0"].Digest {
		t.Errorf("digest %s", img.Digest)
	}
}

func TestRetriesGiveUp(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Error(w, "down", http.StatusBadGateway)
			return true
		}
		return false
	})
	_, err := newTestPuller(t, newCache(t)).Pull(context.Background(), ref(px.addr(), "library/db:1.0"), "")
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("err = %v, want the 502 after the retries", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestResolveFallsBackToGet(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	px.setRewrite(func(resp *http.Response) {
		if resp.Request.Method == http.MethodHead {
			resp.Header.Del("Docker-Content-Digest")
		}
	})
	want := pushed["library/web:1.0"]
	d, err := newTestPuller(t, newCache(t)).Resolve(context.Background(), ref(px.addr(), "library/web:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != want.Digest || d.MediaType != want.MediaType {
		t.Errorf("resolved %+v, want %+v", d, want)
	}
	if px.count("GET /v2/library/web/manifests/1.0") != 1 {
		t.Errorf("no GET after an incomplete HEAD (%d requests)", px.requests())
	}
}

func TestWrongDockerContentDigestIsRefused(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	px.setRewrite(func(resp *http.Response) {
		resp.Header.Set("Docker-Content-Digest", pushed["library/db:1.0"].Digest)
	})
	cache := newCache(t)
	_, err := newTestPuller(t, cache).Pull(context.Background(), ref(px.addr(), "library/app:1.0"), "")
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if _, ok := cache.Has(pushed["library/app:1.0"].Digest); ok {
		t.Error("the manifest was stored despite the mismatch")
	}
}

func TestRetriesTruncatedBody(t *testing.T) {
	reg, pushed := demoRegistry(t)
	px := newProxy(t, reg.URL())
	target := layerOf(t, reg.Addr(), "library/logs:1.0", pushed)
	var mu sync.Mutex
	cut := true
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !cut || !strings.HasSuffix(r.URL.Path, "/blobs/"+target.Digest) {
			return false
		}
		cut = false
		cutShort(w, target.Size, bytes.Repeat([]byte{0}, int(target.Size/2)))
		return true
	})
	cache := newCache(t)
	if _, err := newTestPuller(t, cache).Pull(context.Background(), ref(px.addr(), "library/logs:1.0"), ""); err != nil {
		t.Fatalf("pull after a dropped connection: %v", err)
	}
	if n := px.blobGets()[target.Digest]; n != 2 {
		t.Errorf("layer requested %d times, want 2", n)
	}
}

// cutShort promises a body of size bytes, sends part of it, and drops the
// connection: a transfer cut in the middle.
func cutShort(w http.ResponseWriter, size int64, part []byte) {
	w.Header().Set("Content-Length", itoa(size))
	w.WriteHeader(http.StatusOK)
	w.Write(part)
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}
