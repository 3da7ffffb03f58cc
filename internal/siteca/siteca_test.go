package siteca

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesThenLoadsTheSameCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ca, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.CACert().IsCA || ca.CACert().PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("not an ECDSA CA certificate: %+v", ca.CACert())
	}
	modes := map[string]os.FileMode{"": 0o700, "ca.key": 0o600, "ca.crt": 0o644}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", filepath.Join(dir, name), got, want)
		}
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.CACertPEM()) != string(ca.CACertPEM()) {
		t.Error("reopening created a new CA")
	}
	if string(ca.CACertPEM()) != string(mustRead(t, ca.CACertPath())) {
		t.Error("CACertPEM differs from ca.crt")
	}
}

func TestOpenRefusesAReadableKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "ca.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a world-readable ca.key")
	}
}

func TestOpenRefusesAWritableDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open used a world-writable state directory")
	}
}

func TestServerCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CACertPEM())
	first, err := ca.ServerCertificate([]string{"seed.site.local", "10.0.0.5", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		names []string
		same  bool // the cached certificate is reused
	}{
		{"same names, other order and case", []string{"127.0.0.1", "SEED.site.local", "10.0.0.5"}, true},
		{"duplicates", []string{"10.0.0.5", "10.0.0.5", "seed.site.local", "127.0.0.1"}, true},
		{"a new name", []string{"seed.site.local", "10.0.0.5", "127.0.0.1", "other.site.local"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ca.ServerCertificate(tc.names)
			if err != nil {
				t.Fatal(err)
			}
			if same := got.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0; same != tc.same {
				t.Errorf("reused: %v, want %v", same, tc.same)
			}
			for _, n := range tc.names {
				opts := x509.VerifyOptions{Roots: roots, DNSName: n}
				if _, err := got.Leaf.Verify(opts); err != nil {
					t.Errorf("certificate does not verify for %s: %v", n, err)
				}
			}
		})
	}
	// A new process (a new CA value) reuses the certificate on disk.
	reopened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"seed.site.local", "10.0.0.5", "127.0.0.1", "other.site.local"}
	a, _ := ca.ServerCertificate(names)
	b, err := reopened.ServerCertificate(names)
	if err != nil {
		t.Fatal(err)
	}
	if a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) != 0 {
		t.Error("a reopened CA issued a new certificate for the same names")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "server.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("server.key has mode %v", fi.Mode().Perm())
	}
	if _, err := ca.ServerCertificate(nil); err == nil {
		t.Error("a certificate without names was issued")
	}
	if _, err := ca.ServerCertificate([]string{"https://x"}); err == nil {
		t.Error("a URL was accepted as a name")
	}
}

func TestServerCertificateRenewsNearExpiry(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"localhost"}
	old, err := ca.issue(names, time.Now().Add(-serverLifetime+renewBefore/2))
	if err != nil {
		t.Fatal(err)
	}
	ca.server = old
	got, err := ca.ServerCertificate(names)
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.Cmp(old.leaf.SerialNumber) == 0 {
		t.Error("a certificate that expires within 30 days was reused")
	}
}

func TestConcurrentOpenAgreesOnOneCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	var wg sync.WaitGroup
	pems := make([]string, 8)
	for i := range pems {
		wg.Go(func() {
			ca, err := Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := ca.ServerCertificate([]string{"localhost"}); err != nil {
				t.Error(err)
			}
			pems[i] = string(ca.CACertPEM())
		})
	}
	wg.Wait()
	slices.Sort(pems)
	if len(slices.Compact(pems)) != 1 {
		t.Error("concurrent Opens created different CAs")
	}
}

// TestTLSHandshakeTrustingOnlyTheCA serves TLS with the CA's configuration
// and connects with a client that trusts only ca.crt.
func TestTLSHandshakeTrustingOnlyTheCA(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.TLSConfig([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mustRead(t, ca.CACertPath()))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := client.Get("https://localhost:" + port); err == nil {
		t.Error("the certificate verified for a name it does not carry")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
