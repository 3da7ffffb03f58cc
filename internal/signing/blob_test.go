package signing

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func newTestSigner(t *testing.T) (*Signer, []byte) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigner("test.key", privPEM, staticPassword("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return s, pubPEM
}

func TestSignVerifyBlob(t *testing.T) {
	signer, pubPEM := newTestSigner(t)
	_, otherPub := newTestSigner(t)
	data := []byte(`{"artifacts":[{"digest":"sha256:00"}]}`)
	sig, err := signer.SignBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := base64.StdEncoding.DecodeString(string(sig)); err != nil {
		t.Fatalf("signature %q is not standard base64: %v", sig, err)
	}
	altered := append([]byte(nil), data...)
	altered[3] ^= 0x01
	truncatedSig := sig[:len(sig)-8]

	tests := []struct {
		name    string
		pub     []byte
		data    []byte
		sig     []byte
		wantErr error
	}{
		{"good", pubPEM, data, sig, nil},
		{"good with trailing newline", pubPEM, data, append(append([]byte(nil), sig...), '\n'), nil},
		{"wrong key", otherPub, data, sig, ErrBadSignature},
		{"altered data", pubPEM, altered, sig, ErrBadSignature},
		{"truncated signature", pubPEM, data, truncatedSig, ErrBadSignature},
		{"empty signature", pubPEM, data, nil, ErrUnsigned},
		{"whitespace signature", pubPEM, data, []byte(" \n"), ErrUnsigned},
		{"not base64", pubPEM, data, []byte("MEUC!!!not*base64"), ErrMalformedSignature},
		{"raw DER", pubPEM, data, mustDecode(t, sig), ErrMalformedSignature},
		{"huge", pubPEM, data, []byte(strings.Repeat("A", maxSignatureSize+4)), ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVerifier(tt.pub)
			if err != nil {
				t.Fatal(err)
			}
			err = v.VerifyBlob(tt.data, tt.sig)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("VerifyBlob error %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrBadSignature) && !strings.Contains(err.Error(), v.Fingerprint()) {
				t.Errorf("error %q does not name the key %s", err, v.Fingerprint())
			}
		})
	}
}

func mustDecode(t *testing.T, sig []byte) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(string(sig))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSignerVerifierMatchesPublicKey(t *testing.T) {
	signer, pubPEM := newTestSigner(t)
	fromPub, err := ParseVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := signer.Verifier().Fingerprint(), fromPub.Fingerprint(); got != want {
		t.Errorf("signer's own verifier %s, public key file %s", got, want)
	}
	sig, err := signer.SignBlob([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.Verifier().VerifyBlob([]byte("x"), sig); err != nil {
		t.Errorf("own verifier rejects own signature: %v", err)
	}
}

func TestVerifierStringNamesSource(t *testing.T) {
	_, pubPEM := newTestSigner(t)
	v, err := parseVerifier("keys/vendor.pub", pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.String(); !strings.Contains(s, "keys/vendor.pub") || !strings.HasPrefix(s, "sha256:") {
		t.Errorf("String() = %q, want fingerprint and path", s)
	}
}
