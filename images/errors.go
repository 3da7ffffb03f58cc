package images

import (
	"errors"

	"github.com/factory-appliance/appliance/internal/fetch"
)

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNotFound: the registry does not have the image (manifest unknown).
	ErrNotFound = errors.New("not found")
	// ErrInsecureRegistry: the registry speaks plain HTTP, and it is neither
	// loopback nor named with --insecure-registry.
	ErrInsecureRegistry = fetch.ErrPlainHTTP
	// ErrNoPlatform: an index has no manifest for the requested platform.
	ErrNoPlatform = errors.New("no manifest for platform")
	// ErrDigestMismatch: a manifest's bytes do not hash to the digest they
	// were promised to have (pin, reference, or Docker-Content-Digest).
	// Blob mismatches are *cas.DigestError.
	ErrDigestMismatch = errors.New("digest mismatch")
)
