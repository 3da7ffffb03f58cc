package siteserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// TestStart: Start serves TLS from the site CA it creates in StateDir, for
// the names given; a second server on the same address fails with a
// *ListenError; cancelling the context stops the first, and Done yields.
func TestStart(t *testing.T) {
	dc, err := content.NewDir(newLayout(t).dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg := StartConfig{Content: dc, Addr: "127.0.0.1:0", StateDir: state, Names: ServerNames("127.0.0.1:0", nil),
		Access: access.Policy{Allow: access.LoopbackPrefixes}}
	srv, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(srv.CA.CACertPEM())
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + srv.Addr().String() + "/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != string(srv.CA.CACertPEM()) {
		t.Errorf("GET /ca.crt: %s %q", resp.Status, body)
	}
	cfg.Addr = srv.Addr().String()
	var le *ListenError
	if _, err := Start(ctx, cfg); !errors.As(err, &le) || le.Addr != cfg.Addr {
		t.Errorf("a second server on %s: %v, want a *ListenError", cfg.Addr, err)
	}
	cancel()
	select {
	case <-srv.Done():
	case <-time.After(40 * time.Second):
		t.Fatal("the server did not stop when its context was done")
	}
}

// TestServerNames: the listen IP, or every local address and the host
// name when listening on all of them, besides localhost and --san.
func TestServerNames(t *testing.T) {
	got := ServerNames("10.0.0.5:5443", []string{"seed.site"})
	for _, want := range []string{"localhost", "127.0.0.1", "::1", "seed.site", "10.0.0.5"} {
		if !slices.Contains(got, want) {
			t.Errorf("ServerNames lacks %s: %v", want, got)
		}
	}
	if all := ServerNames("0.0.0.0:5443", nil); slices.Contains(all, "0.0.0.0") || len(all) <= 3 {
		t.Errorf("listening on every address: %v", all)
	}
}
