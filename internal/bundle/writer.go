package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/factory-appliance/appliance/internal/seekable"
)

// Option configures a Writer.
type Option func(*writerOptions) error

type writerOptions struct {
	seekable []seekable.WriterOption
}

// WithWorkers sets how many frames are compressed in parallel (default
// GOMAXPROCS). The bytes written do not depend on it.
func WithWorkers(n int) Option {
	return func(o *writerOptions) error {
		if n < 1 {
			return fmt.Errorf("bundle: workers must be at least 1, got %d", n)
		}
		o.seekable = append(o.seekable, seekable.WithWorkers(n))
		return nil
	}
}

// WithLevel sets the zstd level of every frame (default
// seekable.DefaultLevel). The same inputs and level give the same bytes.
func WithLevel(l zstd.EncoderLevel) Option {
	return func(o *writerOptions) error {
		o.seekable = append(o.seekable, seekable.WithLevel(l))
		return nil
	}
}

// Writer writes a bundle file.
//
// Entries are written in the order Add is called; the caller is responsible
// for that order (sort it for reproducible bundles). bundle.json and its
// signature are always the last entries: Finish writes them. Add streams:
// memory use is bounded by the compression pipeline (about 2×workers frames
// of ChunkSize), whatever the entry sizes.
//
// A Writer is not safe for concurrent use. After any error it is unusable
// and every later call fails with an error wrapping ErrWriterFailed; the
// output is then incomplete and must be discarded. Call Finish to complete
// the file, or Abort to give up.
type Writer struct {
	sw      *seekable.Writer
	tw      *tar.Writer
	pos     int64 // uncompressed bytes written to tw's output
	entries map[string]Entry
	dirs    map[string]bool // every parent directory of an entry
	order   []string
	buf     []byte
	err     error
	done    bool
}

// NewWriter returns a Writer that writes a bundle to w. An invalid option
// makes every call on the Writer fail.
func NewWriter(w io.Writer, opts ...Option) *Writer {
	bw := &Writer{entries: map[string]Entry{}, dirs: map[string]bool{}}
	o := writerOptions{seekable: []seekable.WriterOption{seekable.WithFrameSizeHint(ChunkSize + maxHeaderLen + tarBlock)}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			bw.err = err
			return bw
		}
	}
	sw, err := seekable.NewWriter(w, o.seekable...)
	if err != nil {
		bw.err = err
		return bw
	}
	bw.sw = sw
	bw.tw = tar.NewWriter(positionWriter{bw})
	return bw
}

// positionWriter feeds the tar stream into the current frame and counts
// uncompressed bytes.
type positionWriter struct{ w *Writer }

func (p positionWriter) Write(b []byte) (int, error) {
	n, err := p.w.sw.Write(b)
	p.w.pos += int64(n)
	return n, err
}

// Add writes one regular-file entry of exactly size bytes read from r, and
// returns where it is and its digests. It refuses an unsafe path (see
// CheckPath), the reserved names bundle.json and bundle.json.sig, a path
// already added, a path that is a parent directory of another entry (or
// the other way round), and a reader that gives fewer or more than size
// bytes.
func (w *Writer) Add(path string, size int64, r io.Reader) (Entry, error) {
	if err := w.usable(); err != nil {
		return Entry{}, err
	}
	if path == IndexName || path == SignatureName {
		return Entry{}, fmt.Errorf("bundle: %q is reserved for the index; Finish writes it", path)
	}
	if err := w.claim(path, size); err != nil {
		return Entry{}, err
	}
	e, err := w.add(path, size, r, nil)
	if err != nil {
		return Entry{}, w.fail(err)
	}
	return e, nil
}

// Known is what a caller already knows of an entry's content: its sha256
// and, when it has more than ChunkSize bytes, the digest of each ChunkSize
// piece (ChunkDigest).
type Known struct {
	Digest string
	Chunks []string
}

// AddKnown is Add for content whose digests were computed as it streamed in,
// moments before: it writes the entry without hashing it again, and lists
// known's digests for it. Nothing here compares them with the bytes read
// from r; use it only where they were computed from the same bytes (the
// build's fresh downloads, still in the page cache). Should r yield other
// bytes anyway, the bundle lists digests its content does not match: every
// read at the site checks each chunk, and Verify the whole entry, so the
// damage is caught there, never passed on as good.
func (w *Writer) AddKnown(path string, size int64, r io.Reader, known Known) (Entry, error) {
	if err := w.usable(); err != nil {
		return Entry{}, err
	}
	if path == IndexName || path == SignatureName {
		return Entry{}, fmt.Errorf("bundle: %q is reserved for the index; Finish writes it", path)
	}
	if err := checkKnown(path, size, known); err != nil {
		return Entry{}, err
	}
	if err := w.claim(path, size); err != nil {
		return Entry{}, err
	}
	e, err := w.add(path, size, r, &known)
	if err != nil {
		return Entry{}, w.fail(err)
	}
	return e, nil
}

// Digester is a reader that hashes what it yields: once it has returned
// io.EOF it knows the digests of everything it returned. A download that
// checks its bytes against the digest it was promised as they arrive is
// one; it returns an error instead of io.EOF when they do not match.
type Digester interface {
	io.Reader
	Known() Known
}

// AddDigested is Add for content that r hashes as it streams (a download
// checked against its digest on the way in): the entry is written without
// hashing it again, and lists the digests r.Known() returns after r gave
// size bytes and then io.EOF. A reader that fails instead, its content not
// what was promised, fails the Writer like any reader error. The bytes are
// in the output before that last read, so, as after any error, the output
// must then be discarded.
func (w *Writer) AddDigested(path string, size int64, r Digester) (Entry, error) {
	if err := w.usable(); err != nil {
		return Entry{}, err
	}
	if path == IndexName || path == SignatureName {
		return Entry{}, fmt.Errorf("bundle: %q is reserved for the index; Finish writes it", path)
	}
	if err := w.claim(path, size); err != nil {
		return Entry{}, err
	}
	e, err := w.add(path, size, r, &Known{})
	if err == nil {
		err = checkKnown(path, size, r.Known())
	}
	if err != nil {
		return Entry{}, w.fail(err)
	}
	k := r.Known()
	e.Digest, e.Chunks = k.Digest, slices.Clone(k.Chunks)
	w.entries[path] = e
	return e, nil
}

// checkKnown refuses digests that cannot be an entry's of size bytes.
func checkKnown(path string, size int64, known Known) error {
	if !validDigest(known.Digest) {
		return fmt.Errorf("bundle: %s: %q is not a sha256 digest", path, known.Digest)
	}
	if len(known.Chunks) != NumChunks(size) {
		return fmt.Errorf("bundle: %s: %d chunk digests for %d bytes, want %d", path, len(known.Chunks), size, NumChunks(size))
	}
	for _, c := range known.Chunks {
		if !validChunkDigest(c) {
			return fmt.Errorf("bundle: %s: malformed chunk digest %q", path, c)
		}
	}
	return nil
}

// claim checks and records a new path.
func (w *Writer) claim(p string, size int64) error {
	if err := CheckPath(p); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if size < 0 {
		return fmt.Errorf("bundle: %s: negative size %d", p, size)
	}
	if _, dup := w.entries[p]; dup {
		return fmt.Errorf("bundle: %s: added twice; every path is stored once", p)
	}
	if w.dirs[p] {
		return fmt.Errorf("bundle: %s: is already the directory of another entry", p)
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if _, clash := w.entries[d]; clash {
			return fmt.Errorf("bundle: %s: its parent %s is already a file entry", p, d)
		}
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		w.dirs[d] = true
	}
	w.entries[p] = Entry{Path: p}
	return nil
}

// add writes the header frame and the data frames of one entry, hashing
// them unless known gives the digests.
func (w *Writer) add(p string, size int64, r io.Reader, known *Known) (Entry, error) {
	if err := w.sw.EndFrame(); err != nil {
		return Entry{}, err
	}
	if err := w.tw.WriteHeader(entryHeader(p, size)); err != nil {
		return Entry{}, fmt.Errorf("bundle: %s: tar header: %w", p, err)
	}
	e := Entry{Path: p, Offset: w.pos, Size: size}
	var full, chunk hash.Hash
	if known == nil {
		full = sha256.New()
		if NumChunks(size) > 0 {
			chunk = NewChunkHash()
		}
	}
	for left := size; left > 0; {
		n := min(left, ChunkSize)
		if left < size {
			if err := w.sw.EndFrame(); err != nil {
				return Entry{}, err
			}
		}
		if err := w.copyChunk(p, size, size-left, n, r, full, chunk); err != nil {
			return Entry{}, err
		}
		if chunk != nil {
			e.Chunks = append(e.Chunks, ChunkDigestOf(chunk))
			chunk.Reset()
		}
		left -= n
	}
	if err := checkExhausted(p, size, r); err != nil {
		return Entry{}, err
	}
	if err := w.tw.Flush(); err != nil {
		return Entry{}, fmt.Errorf("bundle: %s: %w", p, err)
	}
	if err := w.sw.EndFrame(); err != nil {
		return Entry{}, err
	}
	if known != nil {
		e.Digest, e.Chunks = known.Digest, slices.Clone(known.Chunks)
	} else {
		e.Digest = digestOf(full)
	}
	w.entries[p] = e
	w.order = append(w.order, p)
	return e, nil
}

// copyChunk copies n bytes (at most ChunkSize) of entry p's data into the
// tar stream and the hashes. The chunk is read whole so that its own digest
// is computed on another core while the full digest runs here.
func (w *Writer) copyChunk(p string, size, done, n int64, r io.Reader, full, chunk hash.Hash) error {
	if w.buf == nil {
		w.buf = make([]byte, ChunkSize)
	}
	b := w.buf[:n]
	got, err := io.ReadFull(r, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("bundle: %s: size mismatch: the reader ended after %d bytes, %d were promised", p, done+int64(got), size)
	}
	if err != nil {
		return fmt.Errorf("bundle: %s: after %d bytes: %w", p, done+int64(got), err)
	}
	var wg sync.WaitGroup
	if chunk != nil {
		wg.Go(func() { chunk.Write(b) })
	}
	if full != nil {
		full.Write(b)
	}
	_, err = w.tw.Write(b)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("bundle: %s: %w", p, err)
	}
	return nil
}

// checkExhausted refuses a reader with more than size bytes.
func checkExhausted(p string, size int64, r io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	if n > 0 {
		return fmt.Errorf("bundle: %s: size mismatch: the reader has more than the %d bytes promised", p, size)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bundle: %s: %w", p, err)
	}
	return nil
}

func digestOf(h hash.Hash) string {
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Finish writes bundle.json (index) and, when sig is not nil, its signature
// bundle.json.sig, then the tar end-of-archive blocks, the pointer frame
// and the seek table. index must be a valid bundle.json (see ParseIndex)
// listing exactly the entries added, with the offsets, sizes and digests Add
// returned. It does not close the underlying writer.
func (w *Writer) Finish(index, sig []byte) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.checkIndex(index, sig); err != nil {
		return w.fail(err)
	}
	if err := w.finish(index, sig); err != nil {
		return w.fail(err)
	}
	w.done = true
	return nil
}

func (w *Writer) finish(index, sig []byte) error {
	var ptr pointer
	var err error
	if ptr.Index, err = w.addBytes(IndexName, index); err != nil {
		return err
	}
	if sig != nil {
		if ptr.Signature, err = w.addBytes(SignatureName, sig); err != nil {
			return err
		}
	}
	ptr.TarEnd = w.pos
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("bundle: closing the tar stream: %w", err)
	}
	if err := w.sw.WriteSkippable(PointerMagic, ptr.marshal()); err != nil {
		return err
	}
	return w.sw.Close()
}

// addBytes writes one of the index entries.
func (w *Writer) addBytes(name string, b []byte) (span, error) {
	if err := w.claim(name, int64(len(b))); err != nil {
		return span{}, err
	}
	e, err := w.add(name, int64(len(b)), bytes.NewReader(b), nil)
	if err != nil {
		return span{}, err
	}
	return span{Offset: e.Offset, Size: e.Size, Digest: sha256.Sum256(b)}, nil
}

// checkIndex refuses an index that would make an unreadable bundle.
func (w *Writer) checkIndex(index, sig []byte) error {
	if len(index) > MaxIndexSize {
		return fmt.Errorf("bundle: %s of %d bytes exceeds the limit of %d", IndexName, len(index), MaxIndexSize)
	}
	if sig != nil && (len(sig) == 0 || len(sig) > MaxSignatureSize) {
		return fmt.Errorf("bundle: signature of %d bytes: must be 1 byte to %d bytes, or nil for an unsigned bundle", len(sig), MaxSignatureSize)
	}
	x, err := ParseIndex(index)
	if err != nil {
		return fmt.Errorf("bundle: refusing to write an invalid index: %w", err)
	}
	if len(x.Artifacts) != len(w.order) {
		return fmt.Errorf("bundle: %s lists %d artifacts but %d entries were added; list every entry exactly once", IndexName, len(x.Artifacts), len(w.order))
	}
	for _, a := range x.Artifacts {
		e, ok := w.entries[a.Path]
		if !ok || e.Digest == "" {
			return fmt.Errorf("bundle: %s lists %s, which was not added", IndexName, a)
		}
		if a.Offset != e.Offset || a.Size != e.Size || a.Digest != e.Digest || !slices.Equal(a.Chunks, e.Chunks) {
			return fmt.Errorf("bundle: %s: %s does not match the entry written (offset %d, size %d, %s); copy them from Add's Entry", IndexName, a, e.Offset, e.Size, e.Digest)
		}
	}
	return nil
}

// Abort gives up: it stops the compression workers. The output is
// incomplete. Abort is safe after Finish or an error.
func (w *Writer) Abort() {
	if w.sw != nil {
		w.sw.Abort()
	}
	if w.err == nil && !w.done {
		w.err = fmt.Errorf("%w: aborted", ErrWriterFailed)
	}
}

func (w *Writer) usable() error {
	if w.err != nil {
		if errors.Is(w.err, ErrWriterFailed) {
			return w.err
		}
		return fmt.Errorf("%w: %w", ErrWriterFailed, w.err)
	}
	if w.done {
		return fmt.Errorf("%w: already finished", ErrWriterFailed)
	}
	return nil
}

// fail makes the Writer unusable and stops its workers.
func (w *Writer) fail(err error) error {
	w.err = err
	if w.sw != nil {
		w.sw.Abort()
	}
	return err
}
