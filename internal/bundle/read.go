package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/factory-appliance/appliance/internal/bundle/chunkcache"
)

// Open returns the content of artifact a, which must be listed in this
// bundle's index. It reads only the artifact's own frames, one chunk at a
// time, and returns no byte before the chunk holding it has matched its
// digest (the chunk digest, or the artifact digest for artifacts of at most
// ChunkSize). The chunk digests are part of bundle.json, one for every
// ChunkSize bytes (ParseIndex refuses an artifact that lacks any), so
// together they authenticate every byte; the whole-content sha256 is not
// computed again on every read (Verify and Extract check it). It also checks
// that the tar header at the entry names a's path and size, and the size at
// the end. Any mismatch is an *ArtifactError naming a, returned instead of
// io.EOF; it wraps ErrDigest or ErrCorrupt. Memory use is about one chunk
// per open reader. The reader is also an io.WriterTo that writes straight
// from each verified chunk.
func (r *Reader) Open(a Artifact) (io.ReadCloser, error) {
	if o, ok := r.owner(a.Path); ok && o != r {
		return o.Open(a)
	}
	if err := r.known(a); err != nil {
		return nil, err
	}
	return &chunkReader{r: r, a: a, off: 0, end: a.Size, header: true}, nil
}

// OpenFull is Open that also checks the whole content's sha256 against
// a.Digest, so that an index whose chunk digests and artifact digest
// disagree is caught: for Verify and Extract (package extract).
func (r *Reader) OpenFull(a Artifact) (io.ReadCloser, error) {
	if o, ok := r.owner(a.Path); ok && o != r {
		return o.OpenFull(a)
	}
	if err := r.known(a); err != nil {
		return nil, err
	}
	cr := &chunkReader{r: r, a: a, off: 0, end: a.Size, header: true}
	if len(a.Chunks) > 0 {
		cr.full = sha256.New()
	}
	return cr, nil
}

// OpenRange returns n bytes of artifact a from offset off. Every chunk the
// range touches is read whole and checked against its digest before any of
// its bytes are returned; for an artifact without chunk digests (at most
// ChunkSize bytes) the whole artifact is read and checked. The entry's tar
// header is checked for every range, an empty one too (a range that does
// not touch the first chunk checks it once per Reader). Errors are like
// Open's.
func (r *Reader) OpenRange(a Artifact, off, n int64) (io.ReadCloser, error) {
	if o, ok := r.owner(a.Path); ok && o != r {
		return o.OpenRange(a, off, n)
	}
	if err := r.known(a); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 || off > a.Size || n > a.Size-off {
		return nil, &ArtifactError{Artifact: a, Err: fmt.Errorf("range [%d, +%d) is outside its %d bytes", off, n, a.Size)}
	}
	return &chunkReader{r: r, a: a, off: off, end: off + n, header: true}, nil
}

// known refuses an artifact that is not exactly as listed in the index.
func (r *Reader) known(a Artifact) error {
	b, ok := r.Lookup(a.Path)
	if !ok {
		return fmt.Errorf("%s: %w", a.Path, ErrNotFound)
	}
	if a.Digest != b.Digest || a.Size != b.Size || a.Offset != b.Offset || len(a.Chunks) != len(b.Chunks) {
		return &ArtifactError{Artifact: a, Err: errors.New("does not match the artifact listed in bundle.json; use Lookup or Index")}
	}
	return nil
}

// chunkBufSize fits any chunk with its tar header (PAX included) and padding.
const chunkBufSize = ChunkSize + 64<<10

// chunkReader streams [off, end) of an artifact, chunk by verified chunk.
// Close may be called while a Read or WriteTo is under way in another
// goroutine (net/http's HTTP/2 transport closes a request body when it
// aborts a stream, while its writer may still be reading it): mu keeps
// Close from handing the buffer back to the pool while it is being read.
type chunkReader struct {
	mu     sync.Mutex
	r      *Reader
	a      Artifact
	off    int64 // next byte of the artifact to return
	end    int64
	header bool      // the tar header is still to be checked
	full   hash.Hash // whole-content hash, when streaming a chunked artifact
	buf    *[]byte
	chunk  []byte                      // the verified chunk holding off
	held   *chunkcache.Chunk[chunkKey] // the cached chunk chunk points into, if any
	cOff   int64                       // artifact offset of chunk[0]
	err    error
}

// releaseHeld gives the cached chunk this reader holds back to the cache.
func (c *chunkReader) releaseHeld() {
	if c.held != nil {
		c.r.cache.Release(c.held)
		c.held, c.chunk = nil, nil
	}
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read(p)
}

func (c *chunkReader) read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.off >= c.end {
		if c.header {
			// Nothing was read: an empty artifact (check its header and
			// digest) or an empty range (check the header).
			var err error
			if c.a.Size == 0 {
				err = c.load(0)
			} else {
				err = c.r.checkHeaderOf(c.a)
			}
			if err != nil {
				c.err = &ArtifactError{Artifact: c.a, Err: err}
				return 0, c.err
			}
			c.header = false
		}
		c.err = c.finish()
		return 0, c.err
	}
	if c.off < c.cOff || c.off >= c.cOff+int64(len(c.chunk)) {
		if err := c.load(c.off / ChunkSize); err != nil {
			c.err = &ArtifactError{Artifact: c.a, Err: err}
			return 0, c.err
		}
	}
	avail := c.chunk[c.off-c.cOff:]
	if rest := c.end - c.off; int64(len(avail)) > rest {
		avail = avail[:rest]
	}
	n := copy(p, avail)
	c.off += int64(n)
	return n, nil
}

// WriteTo writes the rest of the range to w straight from each verified
// chunk, without the copy Read makes: no byte is written before its chunk
// matched its digest. It returns the error Read would have.
func (c *chunkReader) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total int64
	for {
		if c.err != nil {
			if c.err == io.EOF {
				return total, nil
			}
			return total, c.err
		}
		if c.off >= c.end {
			var one [1]byte
			c.read(one[:]) // the end-of-read checks, as Read makes them
			continue
		}
		if c.off < c.cOff || c.off >= c.cOff+int64(len(c.chunk)) {
			if err := c.load(c.off / ChunkSize); err != nil {
				c.err = &ArtifactError{Artifact: c.a, Err: err}
				continue
			}
		}
		avail := c.chunk[c.off-c.cOff:]
		if rest := c.end - c.off; int64(len(avail)) > rest {
			avail = avail[:rest]
		}
		n, err := w.Write(avail)
		c.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// finish ends a whole-artifact read with the full digest check.
func (c *chunkReader) finish() error {
	if c.full != nil {
		if got := "sha256:" + hex.EncodeToString(c.full.Sum(nil)); got != c.a.Digest {
			return &ArtifactError{Artifact: c.a, Err: fmt.Errorf("%w: content is %s, bundle.json says %s", ErrDigest, got, c.a.Digest)}
		}
	}
	return io.EOF
}

// load makes chunk k the current, verified chunk: from the Reader's chunk
// cache when it has one (whole-content reads, which hash as they go, do not
// use it), else read into this reader's buffer.
func (c *chunkReader) load(k int64) error {
	if k > 0 && c.header {
		// A range that starts past chunk 0: its header is checked alone.
		if err := c.r.checkHeaderOf(c.a); err != nil {
			return err
		}
		c.header = false
	}
	if c.r.cache != nil && c.full == nil {
		from, _, _, hi, err := c.extent(k, true)
		if err != nil {
			return err
		}
		cc, err := c.r.cache.Get(chunkKey{c.a.Offset, k}, hi-from, func(buf *[]byte) ([]byte, error) {
			return c.readChunk(k, true, buf)
		})
		c.releaseHeld()
		if err != nil {
			return err
		}
		c.held, c.chunk, c.cOff = cc, cc.Data(), k*ChunkSize
		c.header = false // chunk 0 enters the cache only with its header checked
		return nil
	}
	if c.buf == nil {
		c.buf = c.r.bufs.Get().(*[]byte)
	}
	data, err := c.readChunk(k, c.header, c.buf)
	if err != nil {
		return err
	}
	c.chunk, c.cOff = data, k*ChunkSize
	c.header = false
	return nil
}

// checkHeaderOf checks the tar header of a's entry on its own, for reads
// that do not read it with chunk 0, unless it was checked before by this
// Reader (here or with chunk 0): a range past the first chunk then costs
// one more frame read, the first time only.
func (r *Reader) checkHeaderOf(a Artifact) error {
	if _, ok := r.headersOK.Load(a.Offset); ok {
		return nil
	}
	start, err := r.headerStart(a.Offset)
	if err != nil {
		return err
	}
	b := make([]byte, a.Offset-start)
	if _, err := r.sr.ReadAt(b, start); err != nil {
		return err
	}
	if err := checkEntryHeader(b, a.Path, a.Size); err != nil {
		return err
	}
	r.headersOK.Store(a.Offset, struct{}{})
	return nil
}

// extent returns where chunk k's read starts (its tar header for chunk 0
// when header is set), where its data starts, its size, and where the read
// ends (after the tar padding for the last chunk), in the tar stream.
func (c *chunkReader) extent(k int64, header bool) (from, lo, n, hi int64, err error) {
	a := c.a
	lo = a.Offset + k*ChunkSize
	n = min(ChunkSize, a.Size-lo+a.Offset)
	hi = lo + n
	if hi == a.Offset+a.Size {
		hi = a.Offset + padded(a.Size) // the last frame holds the padding
	}
	from = lo
	if k == 0 && header {
		if from, err = c.r.headerStart(a.Offset); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	return from, lo, n, hi, nil
}

// readChunk reads chunk k whole (with the header before it for chunk 0
// when header is set, and the tar padding after it for the last) and
// verifies it. It reads into *buf, grown as needed, and returns the
// chunk's data.
func (c *chunkReader) readChunk(k int64, header bool, buf *[]byte) ([]byte, error) {
	a := c.a
	from, lo, n, hi, err := c.extent(k, header)
	if err != nil {
		return nil, err
	}
	if int64(cap(*buf)) < hi-from {
		// One size for every chunk (a full chunk plus room for its tar
		// header and padding), so pooled buffers are reused, not regrown.
		*buf = make([]byte, max(hi-from, chunkBufSize))
	}
	b := (*buf)[:hi-from]
	// Whole-content reads (Verify, Extract) keep zstd's frame checksums,
	// which also cover the tar padding; the others check every byte they
	// return against the chunk's cryptographic digest below, which makes
	// the frame checksum redundant for them.
	read := c.r.sr.ReadAtUnchecked
	if c.full != nil {
		read = c.r.sr.ReadAt
	}
	if _, err := read(b, from); err != nil {
		return nil, err
	}
	if from < lo {
		if err := checkEntryHeader(b[:lo-from], a.Path, a.Size); err != nil {
			return nil, err
		}
		c.r.headersOK.Store(a.Offset, struct{}{})
	}
	data := b[lo-from : lo-from+n]
	// The chunk digest and the running full digest are computed on two
	// cores; a mismatch of either is caught before the data is returned.
	var wg sync.WaitGroup
	if c.full != nil {
		wg.Go(func() { c.full.Write(data) })
	}
	err = verifyChunk(a, k, data)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return data, nil
}

// verifyChunk checks chunk k of a against its digest.
func verifyChunk(a Artifact, k int64, data []byte) error {
	var got, want string
	if len(a.Chunks) > 0 {
		got, want = ChunkDigest(data), a.Chunks[k]
	} else {
		sum := sha256.Sum256(data)
		got, want = "sha256:"+hex.EncodeToString(sum[:]), a.Digest
	}
	if got != want {
		if len(a.Chunks) > 0 {
			return fmt.Errorf("%w: chunk %d (bytes %d to %d) is %s, bundle.json says %s", ErrDigest, k, k*ChunkSize, k*ChunkSize+int64(len(data)), got, want)
		}
		return fmt.Errorf("%w: content is %s, bundle.json says %s", ErrDigest, got, want)
	}
	return nil
}

// Close returns the reader's buffer; reads after Close fail.
func (c *chunkReader) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseHeld()
	if c.buf != nil {
		c.r.bufs.Put(c.buf)
		c.buf, c.chunk = nil, nil
	}
	if c.err == nil {
		c.err = errors.New("bundle: read after Close")
	}
	return nil
}

// OpenUnchecked returns the content of artifact a, listed in this bundle's
// own index, without checking it against its digests: for a caller that
// hashes every byte and compares the digest itself anyway (a build reading
// the bundles its cache keeps, whose writer hashes what it copies). The
// entry's tar header is checked, with the first frame, which is read once;
// each frame's header and size are checked too, and frames stored as raw
// blocks are read straight into the caller's buffer when it holds them
// whole.
func (r *Reader) OpenUnchecked(a Artifact) (io.ReadCloser, error) {
	if err := r.known(a); err != nil {
		return nil, err
	}
	if o, _ := r.owner(a.Path); o != r {
		return nil, &ArtifactError{Artifact: a, Err: errors.New("is in the base bundle, not in this one")}
	}
	return &uncheckedReader{r: r, a: a}, nil
}

// uncheckedReader reads an entry for OpenUnchecked: the frame holding its
// header (and its first bytes) whole, then the rest frame by frame.
type uncheckedReader struct {
	r     *Reader
	a     Artifact
	first []byte // what is left of the data in the header's frame
	buf   *[]byte
	rest  *io.SectionReader
	err   error
}

func (u *uncheckedReader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.rest == nil {
		if err := u.start(); err != nil {
			u.err = &ArtifactError{Artifact: u.a, Err: err}
			return 0, u.err
		}
	}
	if len(u.first) > 0 {
		n := copy(p, u.first)
		u.first = u.first[n:]
		if len(u.first) == 0 {
			u.release()
		}
		return n, nil
	}
	return u.rest.Read(p)
}

// firstFrames holds the buffers of uncheckedReader's first frames.
var firstFrames = sync.Pool{New: func() any { return new([]byte) }}

// release gives the first frame's buffer back.
func (u *uncheckedReader) release() {
	if u.buf != nil {
		u.first = nil
		firstFrames.Put(u.buf)
		u.buf = nil
	}
}

// start reads the header's frame and checks the header.
func (u *uncheckedReader) start() error {
	a := u.a
	start, err := u.r.headerStart(a.Offset)
	if err != nil {
		return err
	}
	i, _ := u.r.sr.FrameAt(start)
	f := u.r.sr.Frame(i)
	u.buf = firstFrames.Get().(*[]byte)
	if int64(cap(*u.buf)) < f.UncompressedSize {
		*u.buf = make([]byte, f.UncompressedSize)
	}
	buf := (*u.buf)[:f.UncompressedSize]
	if _, err := u.r.sr.ReadAtUnchecked(buf, f.UncompressedOffset); err != nil {
		return err
	}
	hdr := a.Offset - f.UncompressedOffset
	if err := checkEntryHeader(buf[:hdr], a.Path, a.Size); err != nil {
		return err
	}
	u.first = buf[hdr:min(int64(len(buf)), hdr+a.Size)]
	next := a.Offset + int64(len(u.first))
	u.rest = io.NewSectionReader(uncheckedAt{u.r}, next, a.Offset+a.Size-next)
	return nil
}

func (u *uncheckedReader) Close() error {
	u.release()
	if u.err == nil {
		u.err = errors.New("bundle: read after Close")
	}
	return nil
}

// uncheckedAt reads the tar stream with seekable.Reader.ReadAtUnchecked.
type uncheckedAt struct{ r *Reader }

func (u uncheckedAt) ReadAt(p []byte, off int64) (int, error) {
	return u.r.sr.ReadAtUnchecked(p, off)
}
