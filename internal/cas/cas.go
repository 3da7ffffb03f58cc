// Package cas is the content-addressed cache that bundle builds fetch into.
//
// Every object is stored under its sha256 digest. Writes go to a temporary
// file in the same directory, are hashed while they are written, and are
// renamed into place only when the digest matched, so a process never sees a
// half-written object. Objects are not fsynced: after a crash of the machine
// an object may hold other bytes than its name says, which is why Open checks
// the digest on every read and OpenUnverified leaves that to its caller. The
// store is safe for concurrent use by several goroutines and several
// processes: two writers of the same digest race harmlessly, because both
// rename identical content.
package cas

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/iox"
)

// ErrNotFound is returned when the store has no object with the digest.
var ErrNotFound = errors.New("not in cache")

// DigestError reports content whose sha256 does not match the digest it was
// promised to have.
type DigestError struct {
	What     string // the artifact, as a user would name it
	Expected string
	Actual   string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: digest mismatch: expected %s, got %s", e.What, e.Expected, e.Actual)
}

// Store is a directory of objects named by digest.
type Store struct {
	dir string

	chunkSize int64 // > 0 once HashChunks was called
	newChunk  func() hash.Hash
	format    func(hash.Hash) string

	mu    sync.Mutex
	fresh map[string][]string // digest → chunk digests, for objects this Store wrote

	ext External // objects kept outside the directory's objects, or nil
}

// External holds objects the store serves but does not keep as files of
// its own: for the build, blobs inside the bundles its cache keeps
// (internal/build's packs). The store asks it for an object only when it
// has no file of that digest.
type External interface {
	// Has reports whether the object is held, and its size.
	Has(digest string) (int64, bool)
	// Open returns the object's bytes, not checked against the digest;
	// ErrNotFound (wrapped) when it is not held.
	Open(digest string) (io.ReadCloser, error)
	// Remove forgets the object (it was found damaged).
	Remove(digest string) error
}

// SetExternal makes the store serve ext's objects too (see External). Call
// it before any read.
func (s *Store) SetExternal(ext External) { s.ext = ext }

// HashChunks makes every object written through this Store from now on
// also hashed in pieces of size bytes (the last piece may be shorter) with
// newHash, while it streams in; format turns each finished hash into its
// digest string. Fresh returns them. Call it before any write.
func (s *Store) HashChunks(size int64, newHash func() hash.Hash, format func(hash.Hash) string) {
	s.chunkSize, s.newChunk, s.format = size, newHash, format
}

// Fresh reports whether this Store wrote and committed the object during
// this process, and returns its chunk digests (see HashChunks; nil when
// chunk hashing is off). The digest itself was checked on the way in. A
// caller may use this to skip hashing the object again right after it was
// downloaded; objects from earlier processes are never fresh.
func (s *Store) Fresh(digest string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.fresh[digest]
	return c, ok
}

func (s *Store) markFresh(digest string, chunks []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh == nil {
		s.fresh = map[string][]string{}
	}
	s.fresh[digest] = chunks
}

// forget drops an object from the fresh set (it was removed).
func (s *Store) forget(digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fresh, digest)
}

// Open returns the store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("content cache %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// DefaultDir is the cache directory used when none is given: the user's
// cache directory, or a temporary one when the user has none.
func DefaultDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "appliance")
	}
	return filepath.Join(os.TempDir(), "appliance-cache")
}

// Dir is the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// Path is where the object with the digest lives (or would live).
func (s *Store) Path(digest string) (string, error) {
	hexPart, err := hexOf(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "sha256", hexPart), nil
}

// Has reports whether the object is present, and its size.
func (s *Store) Has(digest string) (int64, bool) {
	p, err := s.Path(digest)
	if err != nil {
		return 0, false
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		if s.ext != nil {
			return s.ext.Has(digest)
		}
		return 0, false
	}
	return fi.Size(), true
}

// Remove deletes the object, if present: for a cached object found to be
// damaged, so that the next build fetches it anew.
func (s *Store) Remove(digest string) error {
	p, err := s.Path(digest)
	if err != nil {
		return err
	}
	s.forget(digest)
	if s.ext != nil {
		if err := s.ext.Remove(digest); err != nil {
			return err
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// OpenUnverified opens the object for reading without checking its digest,
// for a caller that hashes the bytes itself anyway (the bundle writer does)
// and must not pay for a second hash. The caller must compare the digest
// it computes with digest before trusting the bytes.
func (s *Store) OpenUnverified(digest string) (io.ReadCloser, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		if s.ext != nil {
			return s.ext.Open(digest)
		}
		return nil, fmt.Errorf("%s: %w", digest, ErrNotFound)
	}
	return f, err
}

// Open opens the object for reading. The content is checked against its
// digest while it is read: the reader returns a *DigestError instead of
// io.EOF when the bytes on disk were altered.
func (s *Store) Open(digest string) (io.ReadCloser, int64, error) {
	p, err := s.Path(digest)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) && s.ext != nil {
		size, ok := s.ext.Has(digest)
		if !ok {
			return nil, 0, fmt.Errorf("%s: %w", digest, ErrNotFound)
		}
		rc, err := s.ext.Open(digest)
		if err != nil {
			return nil, 0, err
		}
		return NewVerifiedReader(rc, "cached "+digest, digest, size), size, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return NewVerifiedReader(f, "cached "+digest, digest, fi.Size()), fi.Size(), nil
}

// Put stores r under digest. It is idempotent: a nil error means the content
// is stored at digest. When the object is already present r is not read.
// If the bytes read do not hash to digest (or size >= 0 and the length
// differs) nothing is stored and a *DigestError is returned. what names the
// artifact in errors.
func (s *Store) Put(what, digest string, size int64, r io.Reader) error {
	if _, ok := s.Has(digest); ok {
		return nil
	}
	w, err := s.Writer(what, digest, size)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return fmt.Errorf("%s: %w", what, err)
	}
	return w.Commit()
}

// PutNew stores r, whose digest is not known beforehand, under the sha256
// of its bytes, and returns that digest and the size. The bytes are hashed
// while they are written to a temporary file, never held in memory, and r
// is read to its end but never beyond max bytes: longer content stores
// nothing and fails naming what.
func (s *Store) PutNew(what string, max int64, r io.Reader) (digest string, size int64, err error) {
	w, err := s.writer(what, "", "", -1)
	if err != nil {
		return "", 0, err
	}
	if _, err := io.Copy(w, io.LimitReader(r, max+1)); err != nil {
		w.Abort()
		return "", 0, fmt.Errorf("%s: %w", what, err)
	}
	if w.n > max {
		w.Abort()
		return "", 0, fmt.Errorf("%s: larger than %d bytes", what, max)
	}
	if err := w.Commit(); err != nil {
		return "", 0, err
	}
	return w.digest, w.n, nil
}

// Writer returns a writer that stores an object once Commit succeeds. Use it
// to tee a download into the cache while it streams elsewhere.
func (s *Store) Writer(what, digest string, size int64) (*Writer, error) {
	final, err := s.Path(digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return s.writer(what, digest, final, size)
}

// writer starts an object that Commit renames to final; digest and final
// "" name it by its content.
func (s *Store) writer(what, digest, final string, size int64) (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "sha256"), ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("content cache: %w", err)
	}
	w := &Writer{s: s, f: f, h: sha256.New(), what: what, digest: digest, size: size, final: final}
	if s.chunkSize > 0 {
		w.chunk = s.newChunk()
	}
	return w, nil
}

// Writer is an object being written into the store.
type Writer struct {
	s      *Store
	f      *os.File
	h      hash.Hash
	n      int64
	what   string
	digest string
	size   int64
	final  string

	chunk  hash.Hash // the current piece, when the Store hashes chunks
	chunks []string
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	if w.chunk != nil {
		w.hashChunks(p[:n])
	}
	w.n += int64(n)
	return n, err
}

// copyBufSize is the size of the pieces ReadFrom writes: a download comes
// off the socket in pieces of a few KiB, and one write (and one round of
// hashing) per MiB costs the kernel much less than one per piece.
const copyBufSize = 1 << 20

// ReadFrom writes everything r yields, in pieces of copyBufSize (io.Copy
// into a Writer uses it).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var total int64
	for {
		n, err := iox.Fill(r, *buf)
		if n > 0 {
			m, werr := w.Write((*buf)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err // a truncated download stays an error
		}
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// hashChunks feeds p, which starts at offset w.n, to the chunk hashes.
func (w *Writer) hashChunks(p []byte) {
	size := w.s.chunkSize
	for off := w.n; len(p) > 0; {
		room := size - off%size
		k := int64(len(p))
		if k > room {
			k = room
		}
		w.chunk.Write(p[:k])
		p, off = p[k:], off+k
		if off%size == 0 {
			w.chunks = append(w.chunks, w.s.format(w.chunk))
			w.chunk.Reset()
		}
	}
}

// Abort discards what was written.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// Commit checks the digest and size, then renames the object into place.
func (w *Writer) Commit() error {
	got := "sha256:" + hex.EncodeToString(w.h.Sum(nil))
	if w.digest == "" { // PutNew: named by its content
		w.digest, w.final = got, filepath.Join(w.s.dir, "sha256", strings.TrimPrefix(got, "sha256:"))
	}
	if got != w.digest {
		w.Abort()
		return &DigestError{What: w.what, Expected: w.digest, Actual: got}
	}
	if w.size >= 0 && w.n != w.size {
		w.Abort()
		return fmt.Errorf("%s: size mismatch: expected %d bytes, got %d", w.what, w.size, w.n)
	}
	// No fsync: the cache is a cache. A crash may leave an object whose
	// bytes are not what its name says; every read checks the digest, and
	// the build removes such an object and asks for a rerun. Forcing every
	// blob to disk made a cold build wait on gigabytes of writeback.
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if err := os.Rename(w.f.Name(), w.final); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if w.chunk != nil {
		if w.n%w.s.chunkSize != 0 {
			w.chunks = append(w.chunks, w.s.format(w.chunk))
		}
		w.s.markFresh(w.digest, w.chunks)
	} else {
		w.s.markFresh(w.digest, nil)
	}
	return nil
}

func hexOf(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 {
		return "", fmt.Errorf("%q is not a sha256 digest", digest)
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return "", fmt.Errorf("%q is not a sha256 digest", digest)
	}
	return h, nil
}
