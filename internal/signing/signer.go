package signing

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Signer signs blobs with a cosign private key. It is safe for concurrent
// use.
type Signer struct {
	sv          signature.SignerVerifier
	fingerprint string
	source      string
}

// LoadSigner reads the cosign private key at keyPath and decrypts it with
// the password pass returns (see EnvOrTerminalPassword). pass is called
// once.
func LoadSigner(keyPath string, pass PasswordFunc) (*Signer, error) {
	privPEM, err := readKeyFile(keyPath)
	if err != nil {
		return nil, err
	}
	return ParseSigner(keyPath, privPEM, pass)
}

// ParseSigner is LoadSigner for a key already in memory; source names it in
// errors.
func ParseSigner(source string, privPEM []byte, pass PasswordFunc) (*Signer, error) {
	password, err := pass()
	if err != nil {
		return nil, fmt.Errorf("password for %s: %w", source, err)
	}
	priv, err := decryptPrivateKey(source, privPEM, password)
	if err != nil {
		return nil, err
	}
	// Cosign signs with ED25519ph for Ed25519 keys; the option is ignored
	// for ECDSA and RSA, whose hash follows the key (SHA-256 for P-256).
	sv, err := signature.LoadDefaultSignerVerifier(priv, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", source, err)
	}
	fp, err := signerFingerprint(sv)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", source, err)
	}
	return &Signer{sv: sv, fingerprint: fp, source: source}, nil
}

func signerFingerprint(sv signature.SignerVerifier) (string, error) {
	pub, err := sv.PublicKey()
	if err != nil {
		return "", err
	}
	return Fingerprint(pub)
}

// SignBlob signs data and returns the signature exactly as
// `cosign sign-blob --key` writes it: base64 (standard encoding, no
// trailing newline) of the ASN.1 ECDSA signature over SHA-256(data).
func (s *Signer) SignBlob(data []byte) ([]byte, error) {
	return s.Sign(bytes.NewReader(data))
}

// Sign is SignBlob for a stream: it hashes r as it reads it.
func (s *Signer) Sign(r io.Reader) ([]byte, error) {
	raw, err := s.sv.SignMessage(r)
	if err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", s.source, err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out, nil
}

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() crypto.PublicKey {
	pub, _ := s.sv.PublicKey() // cannot fail for a loaded in-memory key
	return pub
}

// Fingerprint returns the public key's fingerprint (see Fingerprint).
func (s *Signer) Fingerprint() string { return s.fingerprint }
