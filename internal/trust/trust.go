// Package trust opens a bundle file only after its signature has checked
// out: the one place where `deploy serve`, `deploy push` and `deploy` decide
// whether a bundle is trusted.
//
// The chain is the one the bundle format defines: the cosign signature in
// bundle.json.sig covers bundle.json, and bundle.json covers the digest of
// every entry, which the bundle Reader checks on every read. So once
// OpenVerified returns, every byte read through the Reader is authenticated.
package trust

import (
	"errors"
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/signing"
)

// ErrNoKey is returned when neither a public key nor the explicit
// insecure mode was given: an unverified bundle is never opened by default.
var ErrNoKey = errors.New("no public key to verify the bundle with")

// InsecureWarning is written to the warn writer when a bundle is opened
// without checking its signature.
const InsecureWarning = "WARNING: --insecure-skip-verify: the bundle's signature is NOT checked; " +
	"anyone who could change the file could have changed what it deploys. " +
	"Digests are still checked, but nothing vouches for bundle.json itself."

// OpenVerified opens the bundle at path and checks, before its index is
// parsed or trusted, that bundle.json carries a signature by the cosign
// public key at keyPath. An unsigned bundle, a signature by another key,
// or an altered bundle.json fails the open (the error wraps
// signing.ErrUnsigned or signing.ErrBadSignature).
//
// With insecureSkip and no keyPath, the signature is not checked and a loud
// warning is written to warn; entry digests are still checked on every read.
// Giving both keyPath and insecureSkip is refused as contradictory.
//
// The caller closes the Reader.
func OpenVerified(path, keyPath string, insecureSkip bool, warn io.Writer, opts ...bundle.OpenOption) (*bundle.Reader, error) {
	return OpenWithBase(path, "", keyPath, insecureSkip, warn, opts...)
}

// OpenWithBase is OpenVerified for a bundle that may be a delta: base, when
// not empty, is the bundle it was built against, opened and checked the same
// way (same key) and layered under it, after checking that its bundle.json
// is the one the delta names. A delta without its base is refused with the
// base's name, version and digest; a base given for a full bundle too.
func OpenWithBase(path, base, keyPath string, insecureSkip bool, warn io.Writer, opts ...bundle.OpenOption) (*bundle.Reader, error) {
	if base == "" {
		r, err := openOne(path, keyPath, insecureSkip, warn, opts...)
		if err != nil {
			return nil, err
		}
		if delta, _ := r.IsDelta(); delta {
			b := r.Index().Base
			r.Close()
			return nil, fmt.Errorf("bundle %s is a delta built against %s %s (bundle.json %s): give that bundle with --base", path, b.Name, b.Version, b.Digest)
		}
		return r, nil
	}
	if insecureSkip && warn != nil {
		fmt.Fprintln(warn, InsecureWarning) // once for the pair
	}
	return OpenLayered(path, base, func(p string, o ...bundle.OpenOption) (*bundle.Reader, error) {
		return openOne(p, keyPath, insecureSkip, nil, o...)
	}, opts...)
}

// OpenLayered opens base with open, then the delta at path over it
// (bundle.WithBase), closing base again when the delta fails to open.
func OpenLayered(path, base string, open func(path string, opts ...bundle.OpenOption) (*bundle.Reader, error), opts ...bundle.OpenOption) (*bundle.Reader, error) {
	br, err := open(base, opts...)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	r, err := open(path, append(opts, bundle.WithBase(br))...)
	if err != nil {
		br.Close()
		return nil, err
	}
	return r, nil
}

// OpenOptionalKey opens the bundle at path with its signature checked
// against the cosign public key at keyPath, or, with no keyPath, unchecked
// and without a warning: the policy of bundle's read commands (verify, cat,
// extract), tools for CI and inspection that print their own warning.
// Entry digests are checked on every read either way. A delta bundle opens
// without its base. deploy's commands use OpenVerified or OpenWithBase.
func OpenOptionalKey(path, keyPath string, opts ...bundle.OpenOption) (*bundle.Reader, error) {
	return openOne(path, keyPath, keyPath == "", nil, opts...)
}

func openOne(path, keyPath string, insecureSkip bool, warn io.Writer, opts ...bundle.OpenOption) (*bundle.Reader, error) {
	switch {
	case keyPath != "" && insecureSkip:
		return nil, errors.New("--key and --insecure-skip-verify contradict each other; give only --key")
	case keyPath == "" && !insecureSkip:
		return nil, fmt.Errorf("bundle %s: %w; give --key cosign.pub (the key the bundle was signed with), "+
			"or --insecure-skip-verify to open it unverified", path, ErrNoKey)
	case insecureSkip:
		if warn != nil {
			fmt.Fprintln(warn, InsecureWarning)
		}
		return bundle.Open(path, opts...)
	}
	v, err := signing.LoadVerifier(keyPath)
	if err != nil {
		return nil, err
	}
	opts = append(opts, bundle.WithIndexCheck(indexCheck(path, v)))
	return bundle.Open(path, opts...)
}

// indexCheck returns the bundle.WithIndexCheck function that requires
// bundle.json to be signed by v. name names the bundle in errors.
func indexCheck(name string, v *signing.Verifier) func(index, sig []byte) error {
	return func(index, sig []byte) error {
		if len(sig) == 0 {
			return fmt.Errorf("bundle %s is not signed (%w): it has no %s; ask for a bundle signed when it was built, "+
				"or open it with --insecure-skip-verify if you accept an unverified bundle",
				name, signing.ErrUnsigned, bundle.SignatureName)
		}
		if err := v.VerifyBlob(index, sig); err != nil {
			return fmt.Errorf("bundle %s: %s: %w", name, bundle.IndexName, err)
		}
		return nil
	}
}
