package siteserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// TestGracefulShutdownFinishesRequestsInFlight starts a download, cancels
// the server's context in the middle of it, and checks that the download
// still completes intact, that new connections are refused, and that Serve
// returns nil.
func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	l := newLayout(t)
	src, err := content.NewDir(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := New(ctx, slowContent{src}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil) }()
	url := "http://" + ln.Addr().String() + "/v2/docker.io/library/db/blobs/" + l.bigBlob
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, resp.Body, 1000); err != nil { // the response has started
		t.Fatal(err)
	}
	cancel()
	time.Sleep(100 * time.Millisecond) // let Shutdown close the listener
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatalf("the download in flight was cut by the shutdown: %v", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.bigBlob {
		t.Errorf("downloaded %s, want %s", got, l.bigBlob)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its requests finished")
	}
	if _, err := (&http.Client{Timeout: time.Second}).Get(url); err == nil {
		t.Error("the server still accepted a request after shutdown")
	}
}

// slowContent delays every read, so a download is surely in flight when
// the test shuts the server down.
type slowContent struct{ content.Content }

func (s slowContent) Open(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	rc, err := s.Content.Open(ctx, p, off, n)
	if err != nil {
		return nil, err
	}
	return slowReader{rc}, nil
}

type slowReader struct{ io.ReadCloser }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond)
	return s.ReadCloser.Read(p)
}

// TestWriteDeadlineEndsWithTheResponse checks that the per-write deadline
// guarding against stalled clients does not outlive its response on a
// kept-alive connection.
func TestWriteDeadlineEndsWithTheResponse(t *testing.T) {
	l := newLayout(t)
	src, err := content.NewDir(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, src, WithMinWriteRate(0, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil) }()
	defer func() { cancel(); <-done }()
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}} // one kept-alive connection
	url := "http://" + ln.Addr().String() + "/v2/docker.io/library/db/blobs/" + l.bigBlob
	for i := range 2 {
		if i == 1 {
			time.Sleep(300 * time.Millisecond) // past the first response's deadline
		}
		if _, err := fetchBlob(client, url, l.bigBlob); err != nil {
			t.Fatalf("fetch %d on the kept-alive connection: %v", i+1, err)
		}
	}
}

// TestRequestLogsCarryNoCredentials checks that request logging never
// writes headers such as Authorization.
func TestRequestLogsCarryNoCredentials(t *testing.T) {
	l := newLayout(t)
	rs := startServer(t, l.dir, false)
	const secret = "c2VjcmV0LXRva2Vu"
	for _, path := range []string{"/v2/", "/v2/docker.io/library/db/manifests/1.0", "/v2/nope/manifests/1"} {
		if _, _, err := rs.do(t, "GET", path, map[string]string{"Authorization": "Basic " + secret, "Cookie": "s=" + secret}); err != nil {
			t.Fatal(err)
		}
	}
	logs := rs.logs.String()
	if strings.Count(logs, "msg=request") != 3 {
		t.Errorf("want one log line per request:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the logs carry a credential:\n%s", logs)
	}
}
