package rpmfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// SignatureError reports a package whose OpenPGP signature is missing, bad,
// or made by a key the repository does not trust.
type SignatureError struct {
	Package string // the package file or NEVRA
	Repo    string // the repository it came from, if any
	Reason  string
	Err     error // ErrUnsigned when the package carries no signature
}

// Unwrap returns the sentinel behind the error, if any.
func (e *SignatureError) Unwrap() error { return e.Err }

func (e *SignatureError) Error() string {
	from := ""
	if e.Repo != "" {
		from = " from repo " + e.Repo
	}
	return fmt.Sprintf("%s%s: %s; import the right key into the repo's gpgkey, or set gpgcheck: false for the repo (insecure)", e.Package, from, e.Reason)
}

// ErrUnsigned is wrapped by the *SignatureError of a package that carries no
// OpenPGP signature at all.
var ErrUnsigned = errors.New("package is not signed")

var errUnknownKey = errors.New("signed by an unknown key")

// ReadKeys reads armored or binary OpenPGP public keys; an armored file may
// hold several key blocks one after the other, as RPM-GPG-KEY files do.
func ReadKeys(r io.Reader) (openpgp.EntityList, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("-----BEGIN PGP")) {
		return openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	var all openpgp.EntityList
	for _, block := range splitArmor(string(data)) {
		keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
	}
	if len(all) == 0 {
		return nil, errors.New("no OpenPGP public key found")
	}
	return all, nil
}

func splitArmor(s string) []string {
	const begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	var out []string
	for {
		i := strings.Index(s, begin)
		if i < 0 {
			return out
		}
		s = s[i:]
		j := strings.Index(s[len(begin):], begin)
		if j < 0 {
			return append(out, s)
		}
		out = append(out, s[:len(begin)+j])
		s = s[len(begin)+j:]
	}
}

// VerifyPackage reads a whole RPM stream like ReadPackage and also checks its
// signatures against keys. Every signature present must verify, and at least
// one must cover the payload: a header+payload signature, or a header-only
// signature over a header whose payload digest matches. Anything else is a
// *SignatureError naming the package.
func VerifyPackage(r io.Reader, what string, keys openpgp.EntityList) (*rpm.Package, error) {
	return readPackage(r, what, &sigVerifier{keys: keys})
}

// sigVerifier checks an RPM's signatures while readPackage streams it.
type sigVerifier struct {
	keys      openpgp.EntityList
	what      string
	headerOK  bool // a header-only signature verified
	pipe      *io.PipeWriter
	fullDone  chan error
	hasFull   bool
	signerErr error
}

// start verifies the header-only signatures and, when there is a
// header+payload signature, starts verifying it on a pipe fed by Write.
func (v *sigVerifier) start(rf *rpmFile) error {
	v.what = rf.what
	headerSigs, fullSigs, err := signatures(rf.sig)
	if err != nil {
		return &SignatureError{Package: v.what, Reason: err.Error()}
	}
	if len(headerSigs) == 0 && len(fullSigs) == 0 {
		return &SignatureError{Package: v.what, Reason: ErrUnsigned.Error(), Err: ErrUnsigned}
	}
	for _, s := range headerSigs {
		if err := v.check(bytes.NewReader(rf.main.Raw), s); err != nil {
			return err
		}
		v.headerOK = true
	}
	if len(fullSigs) == 0 {
		return nil
	}
	if len(fullSigs) > 1 {
		return &SignatureError{Package: v.what, Reason: "more than one header+payload signature"}
	}
	pr, pw := io.Pipe()
	v.pipe, v.hasFull, v.fullDone = pw, true, make(chan error, 1)
	go func() {
		err := v.check(io.MultiReader(bytes.NewReader(rf.main.Raw), pr), fullSigs[0])
		pr.CloseWithError(err)
		io.Copy(io.Discard, pr)
		v.fullDone <- err
	}()
	return nil
}

// check verifies one signature packet over signed: version 3 packets with
// verifyV3, later versions with go-crypto.
func (v *sigVerifier) check(signed io.Reader, sig []byte) error {
	var err error
	if s3, perr := parseSigV3(sig); perr == nil {
		err = verifyV3(v.keys, signed, s3)
	} else if errors.Is(perr, errNotV3) {
		_, _, err = openpgp.VerifyDetachedSignature(v.keys, signed, bytes.NewReader(sig), nil)
	} else {
		err = perr
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer) || errors.Is(err, errUnknownKey):
		return &SignatureError{Package: v.what, Reason: "signed by a key the repository does not trust (" + err.Error() + ")"}
	default:
		return &SignatureError{Package: v.what, Reason: "bad signature: " + err.Error()}
	}
}

// Write feeds the payload to a header+payload verification, if any.
func (v *sigVerifier) Write(p []byte) (int, error) {
	if !v.hasFull {
		return len(p), nil
	}
	if _, err := v.pipe.Write(p); err != nil {
		// The verifier gave up early; its verdict comes from finish.
		v.hasFull = false
		v.signerErr = <-v.fullDone
	}
	return len(p), nil
}

func (v *sigVerifier) abort(err error) {
	if v != nil && v.pipe != nil {
		v.pipe.CloseWithError(err)
	}
}

// finish collects the header+payload verdict and applies the policy.
func (v *sigVerifier) finish(payloadDigestOK bool) error {
	fullOK := false
	if v.pipe != nil {
		v.pipe.Close()
		if v.hasFull {
			v.signerErr = <-v.fullDone
		}
		if v.signerErr != nil {
			return v.signerErr
		}
		fullOK = true
	}
	if fullOK || v.headerOK && payloadDigestOK {
		return nil
	}
	return &SignatureError{Package: v.what, Reason: "only the header is signed and the header records no payload digest, so the payload is not covered"}
}

// signatures returns the OpenPGP signature packets of the signature header:
// header-only ones, then header+payload ones.
func signatures(sig *header) (headerOnly, full [][]byte, err error) {
	for _, tag := range []uint32{sigTagRSA, sigTagDSA} {
		b, err := sig.bin(tag)
		if err != nil {
			return nil, nil, err
		}
		if b != nil {
			headerOnly = append(headerOnly, b)
		}
	}
	for _, tag := range []uint32{sigTagPGP, sigTagGPG} {
		b, err := sig.bin(tag)
		if err != nil {
			return nil, nil, err
		}
		if b != nil {
			full = append(full, b)
		}
	}
	return headerOnly, full, nil
}
