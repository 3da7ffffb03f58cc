package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushImages pushes n random images (2 layers of 4 KiB each) as
// test/img-I:1.0 and returns the bytes of config and layers of each.
func pushImages(t *testing.T, host string, n int) (refs []imageRef, bytes int64) {
	t.Helper()
	for i := range n {
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		r := imageRef{repo: fmt.Sprintf("test/img-%d", i), tag: "1.0"}
		ref, err := name.ParseReference(host+"/"+r.repo+":"+r.tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		bytes += imageBytes(t, img)
		refs = append(refs, r)
	}
	return refs, bytes
}

func imageBytes(t *testing.T, img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func TestPullAllFetchesEveryBlobOfEveryImage(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	refs, want := pushImages(t, host, 3)
	for _, verify := range []bool{false, true} {
		c := newClient(srv.URL, 2, verify)
		st, err := c.pullAll(context.Background(), refs, 2)
		if err != nil {
			t.Fatalf("verify=%v: %v", verify, err)
		}
		if st.blobs != 9 || st.bytes != want {
			t.Errorf("verify=%v: got %d blobs, %d bytes; want 9 blobs, %d bytes", verify, st.blobs, st.bytes, want)
		}
	}
}

// tamper serves the registry, but replaces every blob body with bytes of the
// same length (or one byte fewer with short).
func tamper(h http.Handler, short bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if short {
			body = body[:len(body)-1]
		} else {
			body = []byte(strings.Repeat("x", len(body)))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func TestPullAllFailsOnBadBlobs(t *testing.T) {
	cases := []struct {
		name   string
		short  bool
		verify bool
		want   string
	}{
		{"short body", true, false, "the manifest says"},
		{"wrong content, verified", false, true, "does not match its digest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := registry.New()
			good := httptest.NewServer(reg)
			defer good.Close()
			refs, _ := pushImages(t, strings.TrimPrefix(good.URL, "http://"), 1)
			bad := httptest.NewServer(tamper(reg, c.short))
			defer bad.Close()
			_, err := newClient(bad.URL, 2, c.verify).pullAll(context.Background(), refs, 2)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestFirstPullWaitsForTheServer(t *testing.T) {
	reg := registry.New()
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" && !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ready.Store(true)
	refs, _ := pushImages(t, strings.TrimPrefix(srv.URL, "http://"), 1)
	ready.Store(false)
	start := time.Now()
	time.AfterFunc(200*time.Millisecond, func() { ready.Store(true) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := config{registry: srv.URL, clients: 2, first: true, since: start.UnixNano(), refs: refs}
	var out strings.Builder
	if err := firstPull(ctx, newClient(srv.URL, 2, false), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "first_pull_seconds=") {
		t.Errorf("output %q", out.String())
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Error("firstPull returned before the server answered /v2/")
	}
}

func TestFirstPullTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg := config{registry: srv.URL, clients: 1, first: true, since: time.Now().UnixNano(), refs: []imageRef{{"a", "1"}}}
	if err := firstPull(ctx, newClient(srv.URL, 1, false), cfg, io.Discard); err == nil {
		t.Fatal("firstPull succeeded against a server that never answers /v2/")
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"--registry", "http://127.0.0.1:5000", "a/b:1"}, true},
		{[]string{"--registry", "http://127.0.0.1:5000/", "--clients", "3", "a/b:1", "c:2"}, true},
		{[]string{"--registry", "http://127.0.0.1:5000", "--first", "--since-unix-nano", "1", "a:1"}, true},
		{[]string{"--registry", "https://example:5000", "a:1"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000", "no-tag"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000", "host:5000/repo"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000", "--clients", "0", "a:1"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000", "--first", "a:1"}, false},
		{[]string{"--registry", "http://127.0.0.1:5000", "--first", "--since-unix-nano", "1", "a:1", "b:1"}, false},
	}
	for _, c := range cases {
		_, err := parseFlags(c.args)
		if (err == nil) != c.ok {
			t.Errorf("parseFlags(%q): err = %v, want ok=%v", c.args, err, c.ok)
		}
	}
}
