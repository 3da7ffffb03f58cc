package content

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Dir is Content over an extracted bundle directory (an OCI image
// layout plus repos/, charts/, files/). It never reads outside the
// directory: paths are resolved with os.Root, so symbolic links cannot escape
// it.
//
// Blobs (blobs/sha256/<hex>) are verified against the digest in their name
// on every read. Other files have no digest in their name; Dir hashes
// each on first use and verifies later reads against that hash, so a file
// changed while the server runs is detected, but nothing vouches for the
// first version: the directory itself is trusted, which is why serving a
// directory is for development and tests, and bundles are served from the
// signed bundle file.
//
// A read of a range costs a read of the whole file, because a digest covers
// the whole file. Dir is safe for concurrent use.
type Dir struct {
	root *os.Root

	mu      sync.Mutex
	digests map[string]fileDigest // non-blob files, hashed on first Stat
}

type fileDigest struct {
	size    int64
	modTime time.Time
	digest  string
}

// NewDir opens dir, which must hold an OCI image layout (an
// "oci-layout" file and "index.json").
func NewDir(dir string) (*Dir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open bundle directory: %w", err)
	}
	for _, name := range []string{"oci-layout", IndexPath} {
		if _, err := root.Stat(name); err != nil {
			root.Close()
			return nil, fmt.Errorf("%s is not an extracted bundle: %w", dir, err)
		}
	}
	return &Dir{root: root, digests: map[string]fileDigest{}}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

// Stat implements Content. For files other than blobs it may hash the file.
func (d *Dir) Stat(path string) (int64, string, bool) {
	if !fs.ValidPath(path) || path == "." {
		return 0, "", false
	}
	fi, err := d.root.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return 0, "", false
	}
	if hexDigest, ok := strings.CutPrefix(path, BlobsPrefix); ok {
		if !isSHA256Hex(hexDigest) {
			return 0, "", false
		}
		return fi.Size(), "sha256:" + hexDigest, true
	}
	digest, err := d.fileDigest(path, fi)
	if err != nil {
		return 0, "", false
	}
	return fi.Size(), digest, true
}

func (d *Dir) fileDigest(path string, fi fs.FileInfo) (string, error) {
	d.mu.Lock()
	fd, ok := d.digests[path]
	d.mu.Unlock()
	if ok && fd.size == fi.Size() && fd.modTime.Equal(fi.ModTime()) {
		return fd.digest, nil
	}
	if ok {
		// Changed since it was first hashed: keep the first digest, so
		// reads of the new bytes fail verification.
		return fd.digest, nil
	}
	f, err := d.root.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	d.mu.Lock()
	if prev, ok := d.digests[path]; ok {
		digest = prev.digest
	} else {
		d.digests[path] = fileDigest{size: fi.Size(), modTime: fi.ModTime(), digest: digest}
	}
	d.mu.Unlock()
	return digest, nil
}

// Open implements Content.
func (d *Dir) Open(ctx context.Context, path string, off, n int64) (io.ReadCloser, error) {
	size, digest, ok := d.Stat(path)
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if off < 0 || off > size || (n >= 0 && off+n > size) {
		return nil, fmt.Errorf("%s: range [%d, +%d) outside its %d bytes", path, off, n, size)
	}
	end := size
	if n >= 0 {
		end = off + n
	}
	f, err := d.root.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &verifiedWindow{ctx: ctx, f: f, h: sha256.New(), path: path, digest: digest, size: size, off: off, end: end}, nil
}

// List implements Content.
func (d *Dir) List(prefix string) []string {
	dir := strings.TrimSuffix(prefix, "/")
	if dir == "" {
		dir = "."
	}
	var out []string
	fs.WalkDir(d.root.FS(), dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// verifiedWindow reads a whole file through a hash and returns only the
// bytes in [off, end). When the window's last byte is reached it reads and
// hashes the rest of the file, and returns a mismatch together with those
// last bytes, so a caller that holds back data until a read succeeds never
// passes on an unverified tail.
type verifiedWindow struct {
	ctx      context.Context
	f        *os.File
	h        hash.Hash
	path     string
	digest   string
	size     int64
	off, end int64
	pos      int64
	err      error
}

func (w *verifiedWindow) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return 0, err
	}
	if w.pos < w.off {
		if w.err = w.consume(w.off - w.pos); w.err != nil {
			return 0, w.err
		}
	}
	if w.pos >= w.end {
		w.err = w.finish()
		return 0, w.err
	}
	if rest := w.end - w.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := w.f.Read(p)
	w.h.Write(p[:n])
	w.pos += int64(n)
	switch {
	case err == io.EOF && w.pos < w.end:
		w.err = fmt.Errorf("%s: truncated: %d of %d bytes", w.path, w.pos, w.size)
	case err != nil && err != io.EOF:
		w.err = fmt.Errorf("%s: %w", w.path, err)
	case w.pos == w.end:
		w.err = w.finish()
		if w.err == io.EOF {
			return n, nil
		}
	}
	return n, w.err
}

// consume hashes n bytes without returning them.
func (w *verifiedWindow) consume(n int64) error {
	got, err := io.CopyN(w.h, w.f, n)
	w.pos += got
	if err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	return nil
}

// finish hashes the rest of the file and compares the digest; it returns
// io.EOF when the file matches.
func (w *verifiedWindow) finish() error {
	got, err := io.Copy(w.h, w.f)
	w.pos += got
	if err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	if w.pos != w.size {
		return fmt.Errorf("%s: size changed while reading: %d bytes, expected %d", w.path, w.pos, w.size)
	}
	if sum := "sha256:" + hex.EncodeToString(w.h.Sum(nil)); sum != w.digest {
		return &DigestError{Path: w.path, Expected: w.digest, Actual: sum}
	}
	return io.EOF
}

func (w *verifiedWindow) Close() error { return w.f.Close() }

// DigestError reports bundle content whose bytes do not match their digest.
type DigestError struct {
	Path     string
	Expected string
	Actual   string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s is corrupt: expected %s, read %s; the bundle is damaged; copy it again from the original", e.Path, e.Expected, e.Actual)
}
