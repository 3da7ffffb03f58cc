package siteserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// running is a server started by startServer.
type running struct {
	url        string // http://127.0.0.1:PORT or https://...
	addr       string // 127.0.0.1:PORT
	client     *http.Client
	logs       *lockedio.Buffer
	caCertPath string
}

// startServer serves dir on a loopback port until the test ends: over TLS
// from a fresh site CA when withTLS, else plain HTTP.
func startServer(t *testing.T, dir string, withTLS bool) *running {
	t.Helper()
	src, err := content.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return startServerFor(t, src, withTLS)
}

// backends returns the two Contents over the same layout: the extracted
// directory, and a bundle file packed from it.
func backends(t *testing.T, l *testLayout) map[string]content.Content {
	t.Helper()
	dc, err := content.NewDir(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	return map[string]content.Content{"dir": dc, "bundle": openTestBundle(t, writeTestBundle(t, l.dir))}
}

// startServerFor serves content like startServer, with the extra options.
func startServerFor(t *testing.T, src content.Content, withTLS bool, extra ...Option) *running {
	t.Helper()
	logs := &lockedio.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := append([]Option{WithLogger(log)}, extra...)
	rs := &running{logs: logs, client: &http.Client{Timeout: time.Minute}}
	var tlsConf *tls.Config
	if withTLS {
		ca, err := siteca.Open(filepath.Join(t.TempDir(), "state"))
		if err != nil {
			t.Fatal(err)
		}
		if tlsConf, err = ca.TLSConfig([]string{"127.0.0.1", "localhost"}); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithCACert(ca.CACertPEM()))
		rs.caCertPath = ca.CACertPath()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca.CACertPEM())
		rs.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, src, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, tlsConf) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	rs.addr = ln.Addr().String()
	rs.url = "http://" + rs.addr
	if withTLS {
		rs.url = "https://" + rs.addr
	}
	return rs
}

// get performs a request and returns the response with its body read.
func (rs *running) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, rs.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := rs.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	return resp, body.Bytes(), err
}

func requireTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: install the Debian package %s", tool, pkg)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
