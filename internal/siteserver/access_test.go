package siteserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// accessServer is a server started by startAccessServer.
type accessServer struct {
	srv  *Server
	url  string
	ca   *siteca.CA // nil for plain HTTP
	logs *lockedio.Buffer
	stop func() // shuts the server down and waits for Serve
}

// startAccessServer serves a tiny extracted bundle (one file, no images) on
// 127.0.0.1 with policy, over TLS from a fresh site CA unless plain.
func startAccessServer(t *testing.T, policy func(*siteca.CA) access.Policy, plain bool) *accessServer {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"oci-layout":      `{"imageLayoutVersion":"1.0.0"}`,
		content.IndexPath: `{"schemaVersion":2,"manifests":[]}`,
		"files/seed.txt":  "seed content\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := content.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	as := &accessServer{logs: &lockedio.Buffer{}}
	var tlsConf *tls.Config
	if !plain {
		if as.ca, err = siteca.Open(filepath.Join(t.TempDir(), "state")); err != nil {
			t.Fatal(err)
		}
		if tlsConf, err = as.ca.TLSConfig([]string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(as.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	opts := []Option{WithLogger(log), WithAccess(policy(as.ca))}
	if as.ca != nil {
		opts = append(opts, WithCACert(as.ca.CACertPEM()))
	}
	if as.srv, err = New(ctx, src, opts...); err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- as.srv.Serve(ctx, ln, tlsConf) }()
	var stopped bool
	as.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(func() {
		as.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", as.logs.String())
		}
	})
	as.url = "https://" + ln.Addr().String()
	if plain {
		as.url = "http://" + ln.Addr().String()
	}
	return as
}

// client returns an HTTP client whose connections come from the loopback
// address from, trusting the site CA and presenting cert if it is not nil.
func (as *accessServer) client(t *testing.T, from string, cert *tls.Certificate) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, ForceAttemptHTTP2: true}
	if as.ca != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(as.ca.CACertPEM())
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func getBody(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func allowOnly(prefix string) func(*siteca.CA) access.Policy {
	return func(*siteca.CA) access.Policy {
		return access.Policy{Allow: []netip.Prefix{netip.MustParsePrefix(prefix)}, AllowHint: "add it with --allow CIDR"}
	}
}

// TestAllowlistRefusesOtherAddresses: with 127.0.0.1/32 allowed, a client
// from 127.0.0.1 reads files and the registry, one bound to 127.0.0.2 gets
// 403 on both (in the registry's error format on /v2/), with its address
// and the hint, and is counted.
func TestAllowlistRefusesOtherAddresses(t *testing.T) {
	as := startAccessServer(t, allowOnly("127.0.0.1/32"), false)
	in, out := as.client(t, "127.0.0.1", nil), as.client(t, "127.0.0.2", nil)
	for _, p := range []string{"/files/seed.txt", "/v2/", "/ca.crt"} {
		if code, body := getBody(t, in, as.url+p); code != http.StatusOK {
			t.Errorf("GET %s from 127.0.0.1: %d %s, want 200", p, code, body)
		}
		code, body := getBody(t, out, as.url+p)
		if code != http.StatusForbidden || !strings.Contains(body, "127.0.0.2") || !strings.Contains(body, "--allow CIDR") {
			t.Errorf("GET %s from 127.0.0.2: %d %q, want 403 naming the address and the hint", p, code, body)
		}
		if strings.Contains(body, "seed content") {
			t.Errorf("GET %s from 127.0.0.2 leaked content", p)
		}
		if p == "/v2/" && !strings.Contains(body, `"code":"DENIED"`) {
			t.Errorf("GET /v2/ from 127.0.0.2: body %q, want a DENIED registry error", body)
		}
	}
	if got := as.srv.Refused(); got != (access.Refusals{Address: 3}) {
		t.Errorf("Refused() = %+v, want 3 refused by address", got)
	}
}

// TestDefaultAccessIsLoopbackOnly: without WithAccess, and with an empty
// Allow, only loopback clients are served; IPv4-mapped clients match their
// IPv4 address.
func TestDefaultAccessIsLoopbackOnly(t *testing.T) {
	as := startAccessServer(t, func(*siteca.CA) access.Policy { return access.Policy{} }, true)
	for _, c := range []struct {
		remote string
		want   int
	}{
		{"127.0.0.1:4000", http.StatusOK},
		{"127.9.9.9:4000", http.StatusOK},
		{"[::1]:4000", http.StatusOK},
		{"[::ffff:127.0.0.1]:4000", http.StatusOK},
		{"10.0.0.9:4000", http.StatusForbidden},
		{"[::ffff:10.0.0.9]:4000", http.StatusForbidden},
		{"[fe80::1%eth0]:4000", http.StatusForbidden},
		{"not-an-address", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "/files/seed.txt", nil)
		req.RemoteAddr = c.remote
		rec := httptest.NewRecorder()
		as.srv.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("client %s: %d, want %d", c.remote, rec.Code, c.want)
		}
	}
	// A mapped prefix is the IPv4 prefix.
	mapped := startAccessServer(t, allowOnly("::ffff:10.0.0.0/120"), true)
	req := httptest.NewRequest(http.MethodGet, "/files/seed.txt", nil)
	req.RemoteAddr = "10.0.0.200:4000"
	rec := httptest.NewRecorder()
	mapped.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("10.0.0.200 with ::ffff:10.0.0.0/120 allowed: %d, want 200", rec.Code)
	}
}

// otherCA returns a client certificate from a CA that is not the site's.
func otherCA(t *testing.T) tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "factory appliance site CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "intruder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func pemPair(t *testing.T, certPEM, keyPEM []byte) *tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestClientCertificates: with client certificates required, a client
// without one, with one from another CA, or with the site's own server
// certificate (not for client authentication) gets 403 and is counted; one
// with a client certificate from the site CA is served.
func TestClientCertificates(t *testing.T) {
	as := startAccessServer(t, func(ca *siteca.CA) access.Policy {
		return access.Policy{Allow: access.LoopbackPrefixes, ClientCAs: ca.ClientCAs(), CertHint: "issue one with deploy client-cert NAME"}
	}, false)
	certPEM, keyPEM, err := as.ca.IssueClientCertificate("worker-1")
	if err != nil {
		t.Fatal(err)
	}
	good := pemPair(t, certPEM, keyPEM)
	stranger := otherCA(t)
	server, err := as.ca.ServerCertificate([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cert *tls.Certificate
		want int
		says string
	}{
		{"no certificate", nil, http.StatusForbidden, "requires a client certificate"},
		{"another CA", &stranger, http.StatusForbidden, `"intruder" refused`},
		{"the site's server certificate", server, http.StatusForbidden, "not issued for client authentication"},
		{"a site-CA client certificate", good, http.StatusOK, "seed content"},
	} {
		for _, p := range []string{"/files/seed.txt", "/v2/"} {
			code, body := getBody(t, as.client(t, "127.0.0.1", c.cert), as.url+p)
			if code != c.want || (p != "/v2/" && !strings.Contains(body, c.says)) {
				t.Errorf("%s, GET %s: %d %q, want %d with %q", c.name, p, code, body, c.want, c.says)
			}
			if code == http.StatusForbidden && !strings.Contains(body, "deploy client-cert NAME") {
				t.Errorf("%s, GET %s: body %q lacks the hint", c.name, p, body)
			}
		}
	}
	if got := as.srv.Refused(); got != (access.Refusals{NoCert: 2, BadCert: 4}) {
		t.Errorf("Refused() = %+v, want 2 without a certificate and 4 with a bad one", got)
	}
}

// TestClientCertificatesNeedTLS: Serve refuses plain HTTP when the policy
// requires client certificates.
func TestClientCertificatesNeedTLS(t *testing.T) {
	ca, err := siteca.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(dir, content.IndexPath), []byte(`{"schemaVersion":2,"manifests":[]}`), 0o644)
	src, err := content.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := New(context.Background(), src, WithAccess(access.Policy{ClientCAs: ca.ClientCAs()}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := srv.Serve(context.Background(), ln, nil); err == nil || !strings.Contains(err.Error(), "client certificates need TLS") {
		t.Errorf("Serve over plain HTTP with client certificates required: %v", err)
	}
}

// refusalLines returns the log lines about refused requests.
func refusalLines(logs string) []string {
	var out []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, "refused requests") {
			out = append(out, l)
		}
	}
	return out
}

// TestRefusalsAreCountedNotLogged: 300 refused requests give one log line
// (the first) while the summary interval runs, and one summary of the rest
// when the server stops; no per-request line is logged for any of them,
// while an admitted request is still logged.
func TestRefusalsAreCountedNotLogged(t *testing.T) {
	as := startAccessServer(t, func(*siteca.CA) access.Policy {
		return access.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, SummaryEvery: time.Hour}
	}, true)
	out := as.client(t, "127.0.0.2", nil)
	const n = 300
	for range n {
		if code, _ := getBody(t, out, as.url+"/files/seed.txt"); code != http.StatusForbidden {
			t.Fatalf("GET from 127.0.0.2: %d, want 403", code)
		}
	}
	if code, _ := getBody(t, as.client(t, "127.0.0.1", nil), as.url+"/files/seed.txt"); code != http.StatusOK {
		t.Fatalf("GET from 127.0.0.1: %d, want 200", code)
	}
	if got := as.srv.Refused().Total(); got != n {
		t.Errorf("Refused().Total() = %d, want %d", got, n)
	}
	lines := refusalLines(as.logs.String())
	if len(lines) != 1 || !strings.Contains(lines[0], "requests=1 ") || !strings.Contains(lines[0], "127.0.0.2 (1)") {
		t.Errorf("after %d refusals within the interval, refusal lines:\n%s\nwant only the first", n, strings.Join(lines, ""))
	}
	as.stop()
	lines = refusalLines(as.logs.String())
	if len(lines) != 2 || !strings.Contains(lines[1], "requests=299 ") || !strings.Contains(lines[1], "total=300 ") ||
		!strings.Contains(lines[1], "127.0.0.2 (299)") {
		t.Errorf("after the server stopped, refusal lines:\n%s\nwant the first and a summary of 299 more", strings.Join(lines, ""))
	}
	var perRequest int
	for l := range strings.Lines(as.logs.String()) {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "status=403") {
			perRequest++
		}
	}
	if perRequest != 0 || !strings.Contains(as.logs.String(), "status=200") {
		t.Errorf("%d per-request lines for refused requests (want 0), and the admitted request must be logged:\n%s", perRequest, as.logs.String())
	}
}

// TestRefusalSummaryComesWithoutNewRequests: refusals after a summary line
// are logged once the interval has passed even if no request follows.
func TestRefusalSummaryComesWithoutNewRequests(t *testing.T) {
	as := startAccessServer(t, func(*siteca.CA) access.Policy {
		return access.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, SummaryEvery: 50 * time.Millisecond}
	}, true)
	out := as.client(t, "127.0.0.2", nil)
	for range 3 {
		getBody(t, out, as.url+"/files/seed.txt")
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(refusalLines(as.logs.String())) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var logged uint64
	for _, l := range refusalLines(as.logs.String()) {
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "requests="); ok {
				var k uint64
				for _, ch := range v {
					k = k*10 + uint64(ch-'0')
				}
				logged += k
			}
		}
	}
	if logged != 3 {
		t.Errorf("refusal lines account for %d requests, want 3:\n%s", logged, as.logs.String())
	}
}
