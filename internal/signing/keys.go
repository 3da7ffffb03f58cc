package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// PEM block types of cosign private keys. GenerateKeyPair writes
// SigstorePrivateKeyType; both are read.
const (
	SigstorePrivateKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyType   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// maxKeyFileSize bounds how much of a key file is read. Real PEM keys are a
// few hundred bytes.
const maxKeyFileSize = 64 << 10

// GenerateKeyPair makes a new ECDSA P-256 key pair in cosign's format: the
// private key PKCS #8-encoded, encrypted with password (scrypt + NaCl
// secretbox, as cosign generate-key-pair does) and PEM-encoded as
// "ENCRYPTED SIGSTORE PRIVATE KEY"; the public key as a PKIX "PUBLIC KEY"
// PEM block. An empty password is allowed, as in cosign, but not advised.
func GenerateKeyPair(password []byte) (privPEM, pubPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	sealed, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt private key: %w", err)
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyType, Bytes: sealed})
	pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("encode public key: %w", err)
	}
	return privPEM, pubPEM, nil
}

// WriteKeyPair writes privPEM to <prefix>.key (mode 0600) and pubPEM to
// <prefix>.pub (mode 0644) and returns both paths. It never overwrites: if
// either file exists it writes nothing and returns an error wrapping
// fs.ErrExist. If writing the public key fails, the private key it just
// wrote is removed, so a failure leaves no half pair behind.
func WriteKeyPair(prefix string, privPEM, pubPEM []byte) (keyPath, pubPath string, err error) {
	if err := refuseExisting(prefix); err != nil {
		return "", "", err
	}
	keyPath, pubPath = prefix+".key", prefix+".pub"
	if err := writeNewFile(keyPath, privPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNewFile(pubPath, pubPEM, 0o644); err != nil {
		return "", "", errors.Join(err, os.Remove(keyPath))
	}
	return keyPath, pubPath, nil
}

// writeNewFile creates path exclusively with perm, writes data and syncs it.
// On any error it removes what it created.
func writeNewFile(path string, data []byte, perm fs.FileMode) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite a key: %w", path, err)
		}
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// decryptPrivateKey opens a cosign private key PEM with password. The error
// names source (a path or a description) and says what to check.
func decryptPrivateKey(source string, privPEM, password []byte) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(privPEM)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM file; expected a cosign private key (%q), as written by `bundle keys generate` or `cosign generate-key-pair`", source, SigstorePrivateKeyType)
	}
	if block.Type != SigstorePrivateKeyType && block.Type != CosignPrivateKeyType {
		return nil, fmt.Errorf("%s holds a %q PEM block; expected an encrypted cosign private key (%q); import other keys with `cosign import-key-pair`", source, block.Type, SigstorePrivateKeyType)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("decrypt private key %s: wrong password (check COSIGN_PASSWORD) or damaged key: %w", source, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key %s: %w", source, err)
	}
	return priv, nil
}

// parsePublicKey reads a PKIX "PUBLIC KEY" PEM block, as in a cosign .pub.
func parsePublicKey(source string, pubPEM []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pubPEM)
	if block == nil {
		return nil, fmt.Errorf("%s is not a PEM file; expected a cosign public key (\"PUBLIC KEY\"), as written by `bundle keys generate` or `cosign generate-key-pair`", source)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s holds a %q PEM block; expected a public key (\"PUBLIC KEY\"): pass the .pub file, not the .key", source, block.Type)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("parse public key %s: %w", source, err)
	}
	return pub, nil
}

// Fingerprint returns "sha256:<hex>" of a public key's DER-encoded PKIX
// SubjectPublicKeyInfo. It identifies a key in messages; `openssl pkey
// -pubin -outform DER | sha256sum` gives the same hex.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// FingerprintPEM is Fingerprint for a "PUBLIC KEY" PEM block.
func FingerprintPEM(pubPEM []byte) (string, error) {
	pub, err := parsePublicKey("public key", pubPEM)
	if err != nil {
		return "", err
	}
	return Fingerprint(pub)
}

// readKeyFile reads a small key file, refusing anything larger than a key.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a key file", path, maxKeyFileSize)
	}
	return data, nil
}

// GenerateKeyPairFiles is what `bundle keys generate` does: it asks pass for
// the password, generates a pair (GenerateKeyPair), writes it
// (WriteKeyPair) and returns the paths and the public key's fingerprint.
// It checks that neither file exists before asking for a password.
func GenerateKeyPairFiles(prefix string, pass PasswordFunc) (keyPath, pubPath, fingerprint string, err error) {
	if err := refuseExisting(prefix); err != nil {
		return "", "", "", err
	}
	password, err := pass()
	if err != nil {
		return "", "", "", err
	}
	privPEM, pubPEM, err := GenerateKeyPair(password)
	if err != nil {
		return "", "", "", err
	}
	if fingerprint, err = FingerprintPEM(pubPEM); err != nil {
		return "", "", "", err
	}
	keyPath, pubPath, err = WriteKeyPair(prefix, privPEM, pubPEM)
	return keyPath, pubPath, fingerprint, err
}

// refuseExisting fails, wrapping fs.ErrExist, if <prefix>.key or
// <prefix>.pub exists.
func refuseExisting(prefix string) error {
	for _, p := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; refusing to overwrite a key: choose another --prefix or move it away: %w", p, fs.ErrExist)
		}
	}
	return nil
}
