package siteca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ServerCertificate returns a TLS certificate, signed by the CA, for the given
// names: each is a DNS name or an IP address. The certificate and its key are
// kept in the state directory (server.key mode 0600) and reused while they
// cover exactly these names and more than 30 days of validity remain;
// otherwise a new one is issued and written atomically. Safe for concurrent
// use; cheap after the first call, so it can back tls.Config.GetCertificate.
func (c *CA) ServerCertificate(names []string) (*tls.Certificate, error) {
	sans, err := normalizeSANs(names)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.server != nil && c.server.fits(sans, now) {
		return c.server.tls, nil
	}
	unlock, err := lockDir(c.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s, err := c.loadServer(); err == nil && s.fits(sans, now) {
		c.server = s
		return s.tls, nil
	}
	s, err := c.issue(sans, now)
	if err != nil {
		return nil, err
	}
	c.server = s
	return s.tls, nil
}

// TLSConfig returns a server TLS configuration (TLS 1.2 or later) that
// presents a certificate for names, renewing it while the server runs.
func (c *CA) TLSConfig(names []string) (*tls.Config, error) {
	if _, err := c.ServerCertificate(names); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.ServerCertificate(names)
		},
	}, nil
}

func (s *issued) fits(sans []string, now time.Time) bool {
	return slices.Equal(s.sans, sans) && s.leaf.NotAfter.Sub(now) > renewBefore && now.After(s.leaf.NotBefore)
}

// normalizeSANs lower-cases, validates, sorts and de-duplicates names.
func normalizeSANs(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if ip := net.ParseIP(n); ip != nil {
			out = append(out, ip.String())
			continue
		}
		if n == "" || strings.ContainsAny(n, " /:@") {
			return nil, fmt.Errorf("site CA: %q is neither a DNS name nor an IP address", n)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("site CA: a server certificate needs at least one DNS name or IP address")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (c *CA) loadServer() (*issued, error) {
	keyPath := filepath.Join(c.dir, serverKeyFile)
	if err := checkPrivate(keyPath); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(filepath.Join(c.dir, serverCertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if err := pair.Leaf.CheckSignatureFrom(c.cert); err != nil {
		return nil, fmt.Errorf("server certificate not issued by this CA: %w", err)
	}
	return &issued{sans: leafSANs(pair.Leaf), tls: &pair, leaf: pair.Leaf}, nil
}

func leafSANs(leaf *x509.Certificate) []string {
	sans := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, ip.String())
	}
	slices.Sort(sans)
	return sans
}

func (c *CA) issue(sans []string, now time.Time) (*issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("site CA: generate server key: %w", err)
	}
	tmpl := serverTemplate(sans, now)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("site CA: sign server certificate: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeAtomic(filepath.Join(c.dir, serverKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(c.dir, serverCertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &issued{sans: leafSANs(pair.Leaf), tls: &pair, leaf: pair.Leaf}, nil
}

// serverTemplate is a server certificate for sans (DNS names and IP
// addresses), valid from an hour ago for serverLifetime.
func serverTemplate(sans []string, now time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: sans[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range sans {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}
