// Package siteca keeps the site's certificate authority on the deploy node.
//
// The CA is created on first use in a state directory (mode 0700): an ECDSA
// P-256 key (ca.key, mode 0600) and a self-signed certificate (ca.crt) valid
// for 20 years. It issues the site server's TLS certificate for the names and
// addresses the server answers on. Only the CA certificate is ever handed out
// (CACertPEM); no private key leaves the state directory.
//
// Every file is written atomically (temporary file, fsync, rename), and a
// lock file serialises concurrent processes that share the directory, so two
// deploy commands started together agree on one CA.
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
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names inside the state directory.
const (
	CACertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
	lockFile       = ".lock"
)

// Lifetimes. A server certificate is re-issued when less than renewBefore of
// its validity remains.
const (
	caLifetime     = 20 * 365 * 24 * time.Hour
	serverLifetime = 397 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// CA is the site certificate authority. Its methods are safe for concurrent
// use.
type CA struct {
	dir     string
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey

	mu     sync.Mutex
	server *issued // the current server certificate, nil until first issued
}

type issued struct {
	sans []string
	tls  *tls.Certificate
	leaf *x509.Certificate
}

// Open loads the CA kept in dir, creating dir (0700) and a new CA when none
// exists yet. It refuses a directory that group or others may write to, and
// a ca.key that group or others may read. Open is idempotent: calling it
// again returns the same CA.
func Open(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("site CA: create state directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("site CA: %w", err)
	} else if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("site CA: state directory %s has mode %v: others could replace the CA; use a directory only its owner can write to (chmod 700 %s)", dir, fi.Mode().Perm(), dir)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ca := &CA{dir: dir}
	if err := ca.load(); err == nil {
		return ca, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := ca.create(); err != nil {
		return nil, err
	}
	return ca, nil
}

// Dir returns the state directory.
func (c *CA) Dir() string { return c.dir }

// CACertPath returns the path of ca.crt, the file hosts are given.
func (c *CA) CACertPath() string { return filepath.Join(c.dir, CACertFile) }

// CACertPEM returns the CA certificate in PEM form. It is the only key
// material the site CA hands out.
func (c *CA) CACertPEM() []byte { return append([]byte(nil), c.certPEM...) }

// CACert returns the parsed CA certificate.
func (c *CA) CACert() *x509.Certificate { return c.cert }

func (c *CA) load() error {
	certPEM, err := os.ReadFile(filepath.Join(c.dir, CACertFile))
	if err != nil {
		return err
	}
	keyPath := filepath.Join(c.dir, caKeyFile)
	if err := checkPrivate(keyPath); err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	cert, key, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("site CA in %s: %w; move the directory away to create a new CA (hosts must then get the new ca.crt)", c.dir, err)
	}
	if !cert.IsCA {
		return fmt.Errorf("site CA in %s: %s is not a CA certificate", c.dir, CACertFile)
	}
	c.cert, c.certPEM, c.key = cert, certPEM, key
	return nil
}

func (c *CA) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("site CA: generate key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "factory appliance site CA", Organization: []string{"factory appliance"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("site CA: self-sign: %w", err)
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key is written first: a ca.crt without its key is never left behind.
	if err := writeAtomic(filepath.Join(c.dir, caKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(c.dir, CACertFile), certPEM, 0o644); err != nil {
		return err
	}
	c.cert, _ = x509.ParseCertificate(der)
	c.certPEM, c.key = certPEM, key
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("siteca: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

func marshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("site CA: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("key is not an ECDSA key")
	}
	return pair.Leaf, key, nil
}

// checkPrivate refuses a key file that group or others may read.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("site CA: %s has mode %v; it must be readable by its owner only (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	return nil
}
