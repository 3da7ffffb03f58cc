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

// maxSignatureSize bounds an encoded signature. An ECDSA P-256 signature is
// 96 base64 bytes; RSA-4096 is 684.
const maxSignatureSize = 16 << 10

// Verifier checks signatures against one cosign public key. It is safe for
// concurrent use.
type Verifier struct {
	v           signature.Verifier
	fingerprint string
	source      string
}

// LoadVerifier reads a cosign public key ("PUBLIC KEY" PEM) from pubPath.
func LoadVerifier(pubPath string) (*Verifier, error) {
	pubPEM, err := readKeyFile(pubPath)
	if err != nil {
		return nil, err
	}
	return parseVerifier(pubPath, pubPEM)
}

// ParseVerifier reads a cosign public key from memory.
func ParseVerifier(pubPEM []byte) (*Verifier, error) {
	return parseVerifier("", pubPEM)
}

func parseVerifier(source string, pubPEM []byte) (*Verifier, error) {
	pub, err := parsePublicKey(nameOr(source, "public key"), pubPEM)
	if err != nil {
		return nil, err
	}
	return newVerifier(source, pub)
}

func newVerifier(source string, pub crypto.PublicKey) (*Verifier, error) {
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", nameOr(source, "in memory"), err)
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, err
	}
	return &Verifier{v: v, fingerprint: fp, source: source}, nil
}

// Verifier returns a Verifier for the signer's own public key.
func (s *Signer) Verifier() *Verifier {
	v, _ := newVerifier(s.source+" (public part)", s.PublicKey()) // the key already loaded once
	return v
}

// Fingerprint returns the key's fingerprint (see Fingerprint).
func (v *Verifier) Fingerprint() string { return v.fingerprint }

// String names the key for messages: its fingerprint, and the file it came
// from when there is one.
func (v *Verifier) String() string {
	if v.source == "" {
		return v.fingerprint
	}
	return v.fingerprint + " (" + v.source + ")"
}

// VerifyBlob checks that sigBase64 is a signature of data by this key, in
// the form `cosign sign-blob --key` writes (base64 of the raw signature;
// surrounding whitespace such as a trailing newline is ignored). Raw DER
// signatures are refused: every writer we interoperate with emits base64,
// and one accepted encoding leaves nothing to guess.
//
// Errors: an empty signature wraps ErrUnsigned; one that is not base64 wraps
// ErrMalformedSignature; one that does not match wraps ErrBadSignature and
// names the key. Callers prefix the name of what was signed, e.g.
// "bundle.json: ".
func (v *Verifier) VerifyBlob(data, sigBase64 []byte) error {
	return v.Verify(bytes.NewReader(data), sigBase64)
}

// Verify is VerifyBlob for a stream: it hashes r as it reads it and holds
// none of it.
func (v *Verifier) Verify(r io.Reader, sigBase64 []byte) error {
	raw, err := decodeSignature(sigBase64)
	if err != nil {
		return err
	}
	if err := v.v.VerifySignature(bytes.NewReader(raw), r); err != nil {
		return fmt.Errorf("%w with key %s: signed by another key or altered; get the right public key or a re-signed copy (%v)", ErrBadSignature, v, err)
	}
	return nil
}

// verifyRaw checks an already-decoded signature over payload.
func (v *Verifier) verifyRaw(payload, raw []byte) error {
	return v.v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload))
}

func decodeSignature(sigBase64 []byte) ([]byte, error) {
	enc := bytes.TrimSpace(sigBase64)
	if len(enc) == 0 {
		return nil, fmt.Errorf("%w: the signature is empty; sign with `bundle build --sign-key` or `cosign sign-blob --key`", ErrUnsigned)
	}
	if len(enc) > maxSignatureSize {
		return nil, fmt.Errorf("%w: %d bytes is too long for a signature", ErrMalformedSignature, len(enc))
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(raw, enc)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 as cosign sign-blob writes it: %v", ErrMalformedSignature, err)
	}
	return raw[:n], nil
}

func nameOr(name, alt string) string {
	if name == "" {
		return alt
	}
	return name
}
