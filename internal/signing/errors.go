package signing

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; the returned errors
// wrap them with the artifact, the key and the way out.
var (
	// ErrUnsigned means there is no signature to check: an empty signature
	// for a blob, or no cosign signature at all for an image.
	ErrUnsigned = errors.New("unsigned")

	// ErrBadSignature means a signature is present but does not verify with
	// the given key: it was made by another key, or the signed data (or the
	// signature) was altered.
	ErrBadSignature = errors.New("signature does not verify")

	// ErrMalformedSignature means the signature is not valid base64, so it
	// cannot be what cosign sign-blob or our signer wrote.
	ErrMalformedSignature = errors.New("malformed signature")

	// ErrNoPassword means no password could be obtained for a private key:
	// COSIGN_PASSWORD is not set and standard input is not a terminal.
	ErrNoPassword = errors.New("no key password")
)
