// Package siteserver is the site's seed server: a read-only OCI distribution
// registry under /v2/, the bundle's yum repositories under /repos/, its files
// and charts under /files/ and /charts/, and the site CA certificate at
// /ca.crt, all served straight from bundle content.
//
// Everything it serves comes through the Content interface, which verifies
// bytes against their digests while they stream. A response whose bytes fail
// verification is never completed: small content is checked before the
// status line is sent (the client gets a 500), and large content is cut off
// before its last bytes (the connection is aborted), so a client never takes
// a corrupt body for a good one.
package siteserver

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
	indexPath    = "index.json"
	blobsPrefix  = "blobs/sha256/"
	maxIndexSize = 64 << 20 // index.json larger than this is refused
)
