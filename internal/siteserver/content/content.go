// Package content is where the site server's bytes come from: the Content
// interface the server reads through, and its two sources, Bundle (straight
// from a signed bundle file, verified chunk by chunk against bundle.json)
// and Dir (an extracted bundle directory, for development and tests). Every
// source verifies what it returns while it streams: a read whose bytes do
// not match their digest ends in an error, never in a clean io.EOF, so the
// server can refuse to complete a corrupt response. It knows nothing of
// HTTP; internal/siteserver serves what it reads.
package content

import (
	"context"
	"errors"
	"io"
)

// Content is the read side of a bundle as the server needs it. Paths are
// bundle paths: "oci-layout", "index.json", "blobs/sha256/<hex>",
// "repos/<id>/repodata/repomd.xml", "charts/x.tgz", "files/...".
//
// Implementations must be safe for concurrent use.
type Content interface {
	// Stat returns the size and digest ("sha256:<hex>") of the entry at
	// path, or ok=false when there is no such entry.
	Stat(path string) (size int64, digest string, ok bool)

	// Open returns a reader of the bytes [off, off+n) of the entry at path;
	// n < 0 means to the end. The reader verifies what it returns: when the
	// bytes do not match their digest it returns a non-nil error other than
	// io.EOF (at the latest together with the last bytes of the range, or
	// on the read after them), never a clean io.EOF. An entry that does not
	// exist gives an error matching ErrNotFound. Reads stop with ctx's
	// error once ctx is done.
	Open(ctx context.Context, path string, off, n int64) (io.ReadCloser, error)

	// List returns the paths of the entries under prefix (a directory path
	// ending in "/", or "" for all), sorted.
	List(prefix string) []string
}

// ErrNotFound is returned (wrapped) by Content.Open for a missing entry.
var ErrNotFound = errors.New("not in the bundle")

// Bundle paths of the OCI image layout.
const (
	IndexPath   = "index.json"
	BlobsPrefix = "blobs/sha256/"
)

// VerifiedWriterTo is a reader of Content that writes itself only in
// verified pieces, so that its user need hold nothing back (Bundle's
// readers are). WriteVerifiedTo writes the rest of the content to w; ok
// false means it did not take the write on, and the reader is to be read
// as usual.
type VerifiedWriterTo interface {
	WriteVerifiedTo(w io.Writer) (n int64, ok bool, err error)
}
