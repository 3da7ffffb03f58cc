package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/factory-appliance/appliance/internal/cas"
)

// deferredPull pulls repoTag through px with its layers deferred, and
// returns the image and its largest layer.
func deferredPull(t *testing.T, px *proxy, repoTag string) (*Puller, *Image, Blob) {
	t.Helper()
	cache := newCache(t)
	p := newTestPuller(t, cache, WithDeferLayers(func(string) bool { return true }))
	img, err := p.Pull(context.Background(), ref(px.addr(), repoTag), "")
	if err != nil {
		t.Fatal(err)
	}
	var layer Blob
	for _, l := range img.Layers {
		if _, ok := cache.Has(l.Digest); ok {
			t.Errorf("deferred layer %s was stored in the cache", l.Digest)
		}
		if l.Size > layer.Size {
			layer = l
		}
	}
	if n := px.blobGets()[layer.Digest]; n != 0 {
		t.Fatalf("a deferred layer was requested %d times by the pull", n)
	}
	return p, img, layer
}

func readBlob(t *testing.T, p *Puller, img *Image, b Blob) ([]byte, error) {
	t.Helper()
	r, err := p.OpenBlob(context.Background(), img, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestOpenBlobStreamsAndChecks: a deferred layer streams whole and checked.
func TestOpenBlobStreamsAndChecks(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	p, img, layer := deferredPull(t, px, "library/logs:1.0")
	data, err := readBlob(t, p, img, layer)
	sum := sha256.Sum256(data)
	if err != nil || "sha256:"+hex.EncodeToString(sum[:]) != layer.Digest {
		t.Fatalf("read %d bytes, err %v; want the layer %s", len(data), err, layer.Digest)
	}
}

// TestOpenBlobResumes: a connection dropped half-way resumes where it
// stopped (with a Range request, or skipping what was read when the
// registry ignores the range), and every byte is returned once.
func TestOpenBlobResumes(t *testing.T) {
	for _, ignoreRange := range []bool{false, true} {
		reg, _ := demoRegistry(t)
		px := newProxy(t, reg.URL())
		p, img, layer := deferredPull(t, px, "library/logs:1.0")
		var mu sync.Mutex
		cut := true
		var ranges []string
		px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			if !strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest) {
				return false
			}
			ranges = append(ranges, r.Header.Get("Range"))
			if ignoreRange {
				r.Header.Del("Range")
			}
			if !cut {
				return false
			}
			cut = false
			cutShort(w, layer.Size, bytes.Repeat([]byte{0}, int(layer.Size/2)))
			return true
		})
		// The half sent is zeros, not the layer's: resuming after it must
		// fail the digest check, which shows the bytes were not read again.
		_, err := readBlob(t, p, img, layer)
		var de *cas.DigestError
		if !errors.As(err, &de) || de.Expected != layer.Digest {
			t.Fatalf("ignoreRange %v: err %v, want a digest error (the zeros were kept, not read again)", ignoreRange, err)
		}
		mu.Lock()
		if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes="+itoa(layer.Size/2)+"-" {
			t.Errorf("ignoreRange %v: requests with Range %q, want none then from %d", ignoreRange, ranges, layer.Size/2)
		}
		mu.Unlock()
	}
}

// TestOpenBlobResumesToTheRightBytes: a connection cut after real bytes
// resumes into a whole, checked layer.
func TestOpenBlobResumesToTheRightBytes(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	p, img, layer := deferredPull(t, px, "library/logs:1.0")
	want, err := readBlob(t, p, img, layer)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cut := true
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if !cut || !strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest) {
			return false
		}
		cut = false
		cutShort(w, layer.Size, want[:len(want)/3])
		return true
	})
	got, err := readBlob(t, p, img, layer)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after a cut: %d bytes, err %v; want the %d bytes of the layer", len(got), err, len(want))
	}
}

// TestOpenBlobRefusesOtherBytes: a registry serving other bytes fails the
// read at its end with a *cas.DigestError naming the image and the blob.
func TestOpenBlobRefusesOtherBytes(t *testing.T) {
	reg, _ := demoRegistry(t)
	px := newProxy(t, reg.URL())
	p, img, layer := deferredPull(t, px, "library/db:1.0")
	px.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+layer.Digest) {
			return false
		}
		w.Header().Set("Content-Length", itoa(layer.Size))
		w.Write(bytes.Repeat([]byte{'x'}, int(layer.Size)))
		return true
	})
	_, err := readBlob(t, p, img, layer)
	var de *cas.DigestError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "library/db:1.0") || !strings.Contains(err.Error(), layer.Digest) {
		t.Fatalf("err %v, want a digest error naming the image and %s", err, layer.Digest)
	}
}
