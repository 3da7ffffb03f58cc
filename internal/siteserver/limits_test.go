package siteserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"
)

// newHandler returns a server over the bundle packed from l, logging at
// info level to logs, for requests through ServeHTTP.
func newHandler(t *testing.T, l *testLayout, logs *lockedio.Buffer) *Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := New(context.Background(), openTestBundle(t, writeTestBundle(t, l.dir)), WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func serve(srv http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	// httptest's default client address (192.0.2.1) is not on the default
	// allowlist, which takes loopback only; come from loopback as deploy does.
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

func randomDigest() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "sha256:" + hex.EncodeToString(b)
}

// TestRandomDigestsAreNotRemembered sends HEAD and GET requests for many
// random sha256 digests as manifests: each is a 404, and the manifest
// cache stays empty. Manifests that exist are remembered, and the cache
// never holds more than maxCachedInfos entries.
func TestRandomDigestsAreNotRemembered(t *testing.T) {
	l := newLayout(t)
	srv := newHandler(t, l, nil)
	const n = 20000
	for i := range n {
		method := http.MethodHead
		if i%2 == 1 {
			method = http.MethodGet
		}
		if rec := serve(srv, method, "/v2/docker.io/library/db/manifests/"+randomDigest(), nil); rec.Code != http.StatusNotFound {
			t.Fatalf("random digest: status %d", rec.Code)
		}
	}
	if got := srv.manifests.cacheLen(); got != 0 {
		t.Errorf("after %d requests for random digests the manifest cache holds %d entries, want 0", n, got)
	}
	for _, img := range l.images {
		if rec := serve(srv, http.MethodHead, "/v2/"+img.repo+"/manifests/"+img.digest, nil); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", img.ref(), rec.Code)
		}
	}
	if got := srv.manifests.cacheLen(); got != len(l.images) {
		t.Errorf("after HEAD of %d manifests the cache holds %d entries", len(l.images), got)
	}
	for i := range maxCachedInfos + 100 {
		srv.manifests.remember(randomDigest(), &manifestInfo{size: int64(i)})
	}
	if got := srv.manifests.cacheLen(); got != maxCachedInfos {
		t.Errorf("the cache holds %d entries, bound %d", got, maxCachedInfos)
	}
}

// TestFailedRequestLogIsRateLimited sends thousands of bad requests of
// every kind a client can make and counts the info-level log lines: at most
// failedLogBurst request lines per interval, and a summary line counting
// the rest once the interval ends.
func TestFailedRequestLogIsRateLimited(t *testing.T) {
	l := newLayout(t)
	logs := &lockedio.Buffer{}
	srv := newHandler(t, l, logs)
	srv.failedLog.every = 500 * time.Millisecond // so the summary comes soon
	bad := []struct {
		method, path string
		hdr          map[string]string
	}{
		{"HEAD", "/v2/docker.io/library/db/manifests/" + randomDigest(), nil},
		{"GET", "/v2/nope/manifests/1.0", nil},
		{"GET", "/v2/Bad..Name/manifests/1.0", nil},
		{"PUT", "/v2/docker.io/library/db/manifests/1.0", nil},
		{"GET", "/v2/docker.io/library/db/blobs/sha256:xyz", nil},
		{"GET", "/v2/docker.io/library/db/blobs/" + l.bigBlob, map[string]string{"Range": "bytes=999999999-"}},
		{"GET", "/repos/../../etc/passwd", nil},
		{"GET", "/nothing", nil},
	}
	const n = 4000
	start := time.Now()
	for i := range n {
		b := bad[i%len(bad)]
		if rec := serve(srv, b.method, b.path, b.hdr); rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("%s %s: status %d, want 4xx", b.method, b.path, rec.Code)
		}
	}
	intervals := int(time.Since(start)/srv.failedLog.every) + 1
	requestLines := strings.Count(logs.String(), "msg=request")
	if max := intervals * failedLogBurst; requestLines > max {
		t.Errorf("%d request lines at info level for %d failed requests; at most %d", requestLines, n, max)
	}
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(logs.String(), "not_shown=") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary of the failed requests left out of the log:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	notShown := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if _, v, ok := strings.Cut(line, "not_shown="); ok {
			v, _, _ = strings.Cut(v, " ")
			k, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("summary line %q: %v", line, err)
			}
			notShown += k
		}
	}
	t.Logf("%d failed requests in %d intervals: %d request lines, %d counted in summaries, %d bytes of log",
		n, intervals, requestLines, notShown, len(logs.String()))
	if notShown == 0 || requestLines+notShown > n {
		t.Errorf("%d lines shown and %d counted as not shown, for %d requests", requestLines, notShown, n)
	}
}
