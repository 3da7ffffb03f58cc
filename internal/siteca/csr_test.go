package siteca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
)

func newCSR(t *testing.T, dnsNames ...string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "harbor"}, DNSNames: dnsNames}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestSignCSR: the certificate carries the deployment's names, not the
// request's, binds the requester's key, and verifies for TLS servers
// against the site CA alone.
func TestSignCSR(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, csr := newCSR(t, "evil.example")
	certPEM, err := ca.SignCSR(csr, []string{"harbor.site.local", "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.DNSNames, []string{"harbor.site.local"}) || len(cert.IPAddresses) != 1 || cert.IPAddresses[0].String() != "10.0.0.5" {
		t.Errorf("SANs %v %v, want harbor.site.local and 10.0.0.5 only", cert.DNSNames, cert.IPAddresses)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Error("the certificate is not for the requester's key")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.CACert())
	for _, name := range []string{"harbor.site.local", "10.0.0.5"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify as %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "evil.example", Roots: roots}); err == nil {
		t.Error("the certificate is valid for a name only the request asked for")
	}
}

func TestSignCSRRefusesBadRequests(t *testing.T) {
	ca, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, csr := newCSR(t)
	block, _ := pem.Decode(csr)
	// Flip a bit of the signature (the last bytes of the DER).
	block.Bytes[len(block.Bytes)-3] ^= 0x40
	tampered := pem.EncodeToMemory(block)
	for name, tc := range map[string]struct {
		csr   []byte
		names []string
		want  string
	}{
		"not PEM":        {[]byte("hello"), []string{"h"}, "not PEM"},
		"a certificate":  {ca.CACertPEM(), []string{"h"}, "not PEM"},
		"bad signature":  {tampered, []string{"h"}, "signature"},
		"no names given": {csr, nil, ""},
	} {
		_, err := ca.SignCSR(tc.csr, tc.names)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
