package siteca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"regexp"
	"time"
)

// ClientLifetime is how long a client certificate is valid. There is no
// revocation list: a client certificate stops working when it expires, or
// when the site gets a new CA.
const ClientLifetime = 397 * 24 * time.Hour

var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckClientName refuses a client name that is not a plain name of
// letters, digits, '.', '_' and '-' (it names files and the certificate).
func CheckClientName(name string) error {
	if !clientNameRE.MatchString(name) {
		return fmt.Errorf("client name %q: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (such as worker-1)", name)
	}
	return nil
}

// IssueClientCertificate returns a new key and a certificate for it, signed
// by the CA, for TLS client authentication only, with name as its common
// name. Nothing is kept in the state directory: the caller hands both to
// the client, and the key never needs to come back.
func (c *CA) IssueClientCertificate(name string) (certPEM, keyPEM []byte, err error) {
	if err := CheckClientName(name); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("site CA: generate client key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"factory appliance site client"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ClientLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, nil, fmt.Errorf("site CA: sign client certificate: %w", err)
	}
	if keyPEM, err = marshalKey(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// ClientCAs returns a pool holding the CA certificate, for
// access.Policy.ClientCAs.
func (c *CA) ClientCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.cert)
	return pool
}
