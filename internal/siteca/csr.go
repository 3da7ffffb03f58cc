package siteca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// SignCSR signs a PEM certificate request for a server whose private key
// stays where it was made (a Harbor host makes its key and this request
// itself, so the key never crosses the network). The certificate is issued
// for names (DNS names or IP addresses), whatever the request asks for: the
// deployment, not the host, decides what a host may be called. The request's
// own signature must verify, proving its sender holds the key.
func (c *CA) SignCSR(csrPEM []byte, names []string) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("site CA: the certificate request is not PEM \"CERTIFICATE REQUEST\"")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("site CA: certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("site CA: certificate request signature: %w", err)
	}
	sans, err := normalizeSANs(names)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, serverTemplate(sans, time.Now()), c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("site CA: sign server certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
