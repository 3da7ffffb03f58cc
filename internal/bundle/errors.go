package bundle

import (
	"errors"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/seekable"
)

var (
	// ErrCorrupt is wrapped by every error about a damaged or malformed
	// bundle: structure, frames, tar headers, bundle.json. It is the same
	// value as seekable.ErrCorrupt.
	ErrCorrupt = seekable.ErrCorrupt
	// ErrUnsafePath is wrapped by errors about entry paths that could escape
	// the extraction directory or are otherwise unusable.
	ErrUnsafePath = errors.New("unsafe entry path")
	// ErrDigest is wrapped when content does not match its recorded sha256
	// (or a chunk's) or its recorded size.
	ErrDigest = errors.New("content does not match its digest")
	// ErrNotFound is returned when a path is not listed in bundle.json.
	ErrNotFound = errors.New("not in the bundle")
	// ErrWriterFailed is wrapped by every call on a Writer after an error.
	ErrWriterFailed = errors.New("bundle writer failed earlier")
)

// ArtifactError names the artifact a read or check failed for.
type ArtifactError struct {
	Artifact Artifact
	Err      error
}

func (e *ArtifactError) Error() string {
	return fmt.Sprintf("%s: %v", e.Artifact, e.Err)
}

func (e *ArtifactError) Unwrap() error { return e.Err }

// AsArtifactError returns the *ArtifactError err wraps, or err wrapped in
// one naming a: an error about reading artifact a always names it.
func AsArtifactError(a Artifact, err error) *ArtifactError {
	var ae *ArtifactError
	if errors.As(err, &ae) {
		return ae
	}
	return &ArtifactError{Artifact: a, Err: err}
}

// VerifyError lists every artifact that failed verification.
type VerifyError struct {
	Broken []*ArtifactError
	Other  []error // problems not tied to one artifact
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bundle verification failed: %d broken artifact(s)", len(e.Broken))
	for _, a := range e.Broken {
		fmt.Fprintf(&b, "\n  %s", a)
	}
	for _, o := range e.Other {
		fmt.Fprintf(&b, "\n  %s", o)
	}
	b.WriteString("\nrebuild the bundle or copy it again from a good source")
	return b.String()
}

// Unwrap exposes every underlying error to errors.Is and errors.As.
func (e *VerifyError) Unwrap() []error {
	errs := make([]error, 0, len(e.Broken)+len(e.Other))
	for _, a := range e.Broken {
		errs = append(errs, a)
	}
	return append(errs, e.Other...)
}

// corruption is an error about a damaged or malformed bundle. It wraps
// ErrCorrupt and any underlying error.
type corruption struct{ err error }

func (c *corruption) Error() string   { return "corrupt bundle: " + c.err.Error() }
func (c *corruption) Unwrap() []error { return []error{ErrCorrupt, c.err} }

// Corruptf returns an error about a damaged or malformed bundle, with a
// formatted message (%w works): it wraps ErrCorrupt, and its text starts
// "corrupt bundle: ". It is for this package and the packages that read a
// bundle through a Reader (Inspect).
func Corruptf(format string, args ...any) error {
	return &corruption{err: fmt.Errorf(format, args...)}
}
