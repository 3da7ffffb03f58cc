package urlfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// serve answers every request with data and counts the requests.
func serve(t *testing.T, data []byte) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/file", &hits
}

func newFetcher(t *testing.T) *Fetcher {
	t.Helper()
	cache, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Fetcher{Cache: cache, Transport: http.DefaultTransport, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestFetch: an unpinned file is named by what arrived; a pinned file in
// the cache is not downloaded again; other bytes than the pin are a
// *cas.DigestError; a download past its bound is a *TooLargeError and
// stores nothing.
func TestFetch(t *testing.T) {
	data := []byte("a URL file")
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	url, hits := serve(t, data)
	f := newFetcher(t)
	ctx := context.Background()

	got, err := f.Fetch(ctx, url, lock.File{})
	if err != nil || got.SHA256 != want || got.Size != int64(len(data)) {
		t.Fatalf("unpinned: %+v, %v; want sha256 %s, %d bytes", got, err, want, len(data))
	}
	before := hits.Load()
	if got, err := f.Fetch(ctx, url, lock.File{SHA256: want}); err != nil || got.Size != int64(len(data)) {
		t.Fatalf("pinned and cached: %+v, %v", got, err)
	}
	if n := hits.Load() - before; n != 0 {
		t.Errorf("a cached pinned file was downloaded %d times", n)
	}

	other := newFetcher(t)
	var de *cas.DigestError
	if _, err := other.Fetch(ctx, url, lock.File{SHA256: hex.EncodeToString(make([]byte, 32))}); !errors.As(err, &de) {
		t.Errorf("other bytes than the pin: %v, want a *cas.DigestError", err)
	}
	var big *TooLargeError
	if _, err := other.Fetch(ctx, url, lock.File{SHA256: want, Size: 4}); !errors.As(err, &big) {
		t.Errorf("more than the pinned size: %v, want a *TooLargeError", err)
	}
	if _, ok := other.Cache.Has("sha256:" + want); ok {
		t.Error("an oversized download was stored")
	}
}
