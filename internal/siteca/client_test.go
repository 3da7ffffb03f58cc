package siteca

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
)

// TestIssueClientCertificate: a client certificate is signed by the CA, for
// client authentication only, named as asked; bad names are refused.
func TestIssueClientCertificate(t *testing.T) {
	ca, err := Open(t.TempDir() + "/state")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClientCertificate("worker-1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	if leaf.Subject.CommonName != "worker-1" {
		t.Errorf("common name %q, want worker-1", leaf.Subject.CommonName)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.ClientCAs(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate does not verify for client authentication: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.ClientCAs()}); err == nil {
		t.Error("client certificate also verifies for server authentication")
	}
	for _, bad := range []string{"", "../x", ".hidden", "a b", strings.Repeat("a", 64)} {
		if _, _, err := ca.IssueClientCertificate(bad); err == nil || !strings.Contains(err.Error(), "client name") {
			t.Errorf("IssueClientCertificate(%q): %v, want a client name error", bad, err)
		}
	}
}
