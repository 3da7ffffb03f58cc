package urlfile

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// maxSignatureSize bounds the download of a detached signature (an
// armored signature is about a kilobyte).
const maxSignatureSize = 1 << 20

// maxKeySize bounds a verify.gpgkey file.
const maxKeySize = 1 << 20

// Verify checks a cached URL file against the detached OpenPGP
// signature its manifest entry requires (verify.signature), made by a key
// of verify.gpgkey (and by the key verify.fingerprint names, when set). It
// downloads the signature, reads the file from the cache (its digest is
// checked while read) and fails, naming the file, the key and the way out,
// when the signature is missing, is not a signature, does not match the
// bytes, or was made by another key. A damaged cached copy is removed from
// the cache. got is what Fetch returned for the file.
func (fe *Fetcher) Verify(ctx context.Context, f manifest.File, got lock.File) error {
	v := f.Verify
	keys, err := signingKeys(fe.Stack, v)
	if err != nil {
		return fmt.Errorf("%s: file %s: %w", v.Pos, f.URL, err)
	}
	sig, err := fe.fetchSignature(ctx, v.Signature)
	if err != nil {
		return fmt.Errorf("%s: file %s: signature %s: %w; the file requires an OpenPGP signature there: point verify.signature at the upstream's detached signature, or remove verify: to rely on the sha256 alone", v.Pos, f.URL, v.Signature, err)
	}
	digest := "sha256:" + got.SHA256
	rc, _, err := fe.Cache.Open(digest)
	if err != nil {
		return fmt.Errorf("%s: file %s: %w", f.Pos, f.URL, err)
	}
	defer rc.Close()
	signer, err := openpgp.CheckDetachedSignature(keys, rc, signatureBody(sig), nil)
	var de *cas.DigestError
	if errors.As(err, &de) {
		_ = fe.Cache.Remove(digest)
		return fmt.Errorf("%s: file %s: the cached copy is damaged (%v); it was removed from the cache %s: run the build again", f.Pos, f.URL, de, fe.Cache.Dir())
	}
	if err != nil {
		return fmt.Errorf("%s: file %s: %s", v.Pos, f.URL, signatureProblem(err, sig, v, got))
	}
	fe.Log.Info("file signature verified", "url", f.URL, "signature", v.Signature, "signer", fingerprint(signer))
	return nil
}

// signatureProblem says why a signature did not verify, and what to do.
func signatureProblem(err error, sig []byte, v *manifest.FileVerify, got lock.File) string {
	keyDesc := "verify.gpgkey " + v.Key
	if v.Fingerprint != "" {
		keyDesc += " (key " + v.Fingerprint + ")"
	}
	var (
		bad    pgperrors.SignatureError
		broken pgperrors.StructuralError
		arg    pgperrors.InvalidArgumentError
	)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer) && issuer(sig) == "":
		return fmt.Sprintf("signature %s holds no signature; point verify.signature at the upstream's detached signature (.asc)", v.Signature)
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Sprintf("signature %s was made by key %s, which %s does not hold; if the upstream changed its signing key, check the new key's fingerprint with the upstream and ship it in %s", v.Signature, issuer(sig), keyDesc, v.Key)
	case errors.As(err, &bad):
		return fmt.Sprintf("signature %s does not match the downloaded bytes (sha256 %s, %d bytes) under %s: the file or its signature was altered, or they belong to different releases; do not use this download, and check the release upstream", v.Signature, got.SHA256, got.Size, keyDesc)
	case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrKeyRevoked), errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Sprintf("signature %s was made by key %s of %s, but %v; ask the upstream for its current key and ship it in %s", v.Signature, issuer(sig), keyDesc, err, v.Key)
	case errors.As(err, &broken), errors.As(err, &arg), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("signature %s is not an OpenPGP signature (%v); point verify.signature at the upstream's detached signature (.asc)", v.Signature, err)
	}
	return fmt.Sprintf("signature %s does not verify with %s: %v; check the key and the release upstream", v.Signature, keyDesc, err)
}

// issuer names the key that made a signature, as far as its first packet
// says, or "".
func issuer(sig []byte) string {
	p, err := packet.Read(signatureBody(sig))
	s, ok := p.(*packet.Signature)
	switch {
	case err != nil || !ok:
		return ""
	case s.IssuerFingerprint != nil:
		return strings.ToUpper(hex.EncodeToString(s.IssuerFingerprint))
	case s.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *s.IssuerKeyId)
	}
	return ""
}

// signatureBody returns a signature's packets: unarmored when it is
// armored (an .asc file), as they are otherwise (a binary .sig).
func signatureBody(sig []byte) io.Reader {
	if !bytes.Contains(sig, []byte("-----BEGIN PGP")) {
		return bytes.NewReader(sig)
	}
	block, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		return bytes.NewReader(nil)
	}
	if block.Type != openpgp.SignatureType {
		return bytes.NewReader(nil)
	}
	return block.Body
}

func fingerprint(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// fetchSignature downloads a detached signature, bounded.
func (fe *Fetcher) fetchSignature(ctx context.Context, url string) ([]byte, error) {
	var sig []byte
	err := fe.Download(ctx, url, func(body io.Reader) error {
		var err error
		sig, err = io.ReadAll(&boundedReader{r: body, max: maxSignatureSize})
		return err
	})
	return sig, err
}

// signingKeys reads verify.gpgkey with the reader the RPM checks use, and
// keeps only the key verify.fingerprint names, when it names one.
func signingKeys(s *manifest.Stack, v *manifest.FileVerify) (openpgp.EntityList, error) {
	f, err := s.Open(v.Key)
	if err != nil {
		return nil, fmt.Errorf("verify.gpgkey %s: %w", v.Key, err)
	}
	defer f.Close()
	keys, err := rpmfile.ReadKeys(io.LimitReader(f, maxKeySize))
	if err != nil {
		return nil, fmt.Errorf("verify.gpgkey %s: %v; export the signer's public key with gpg --armor --export KEYID", v.Key, err)
	}
	if v.Fingerprint == "" {
		return keys, nil
	}
	var held []string
	for _, k := range keys {
		if fingerprint(k) == v.Fingerprint {
			return openpgp.EntityList{k}, nil
		}
		held = append(held, fingerprint(k))
	}
	return nil, fmt.Errorf("verify.gpgkey %s does not hold key %s named by verify.fingerprint (it holds %s); export that key with gpg --armor --export %s", v.Key, v.Fingerprint, strings.Join(held, ", "), v.Fingerprint)
}

// CheckKeys reads every URL file's verify.gpgkey, as Verify will, and
// reports a key that does not parse or lacks verify.fingerprint's key.
// Keys Lint refused (missing, not armored) are left to Lint's message.
func CheckKeys(s *manifest.Stack) []error {
	var errs []error
	for _, f := range s.Files() {
		if f.Verify == nil || !armoredKey(s, f.Verify.Key) {
			continue
		}
		if _, err := signingKeys(s, f.Verify); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Verify.Pos, err))
		}
	}
	return errs
}

// armoredKey reports whether a key file opens and holds an armored public
// key block, as Lint requires.
func armoredKey(s *manifest.Stack, key string) bool {
	f, err := s.Open(key)
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeySize))
	return err == nil && bytes.Contains(data, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
}
