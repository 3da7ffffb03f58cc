package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sys/unix"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// Bundle is Content straight from a bundle file: nothing is extracted or
// copied. Every read goes through the bundle Reader, which
// decompresses only the frames of the entry asked for and checks each 4 MiB
// chunk against its digest in bundle.json before returning any of its bytes
// (and a whole read against the entry's digest), so whatever the server
// sends was vouched for by bundle.json. Whether bundle.json itself is
// trusted is decided when the Reader is opened (see internal/trust).
//
// Start-up costs one sort of the paths bundle.json lists; no entry is read.
//
// Memory is bounded, and no client can hold it by not reading:
//
//   - Reading and verifying a chunk of an entry larger than SmallEntrySize
//     takes a share of ReadBudget (twice the chunk: the chunk and its
//     decompression), waiting when there is none (or until its context
//     ends); the share is given back as soon as the chunk has been
//     verified, before any of it is written to a client. So the wait is for
//     other chunks being read, never for a client.
//   - Keeping a verified chunk while it is written out takes a share of
//     HoldBudget, only if there is one free (it never waits). A read that
//     gets none copies out one piece of bufferSize bytes at a time and lets
//     go of the chunk before writing it: the next piece comes from the
//     bundle Reader's chunk cache (or is read and verified again when the
//     Reader has none).
//   - Entries of at most SmallEntrySize (manifests, configs, most repodata)
//     take no share of either: they cost little, and stalled downloads
//     never delay them.
//
// A client that stops reading is dropped by the site server's minimum write
// rate (see siteserver.WithMinWriteRate); until then it holds at most its copy buffer, or a
// share of HoldBudget.
//
// Safe for concurrent use, like the Reader.
type Bundle struct {
	r     *bundle.Reader
	paths []string // every listed path, sorted
	read  *semaphore.Weighted
	hold  *semaphore.Weighted

	leaseMu sync.Mutex
	leases  map[*os.File]*fileLease // by bundle file; see lease.go
	closed  bool
	rawBufs chan *[]byte // frames read by VerifyRawChunk; at most rawBufCount, kept

	// Chunks sent from a leased mapping, and of those the ones read and
	// verified first; for tests and diagnostics.
	leasedSent, leasedVerified atomic.Int64
}

// ReadBudget is the memory, in bytes, that Bundle's chunk reads in
// flight (reading and verifying, not yet handed out) may hold together.
const ReadBudget = 64 << 20

// HoldBudget is the memory, in bytes, of verified chunks that Bundle
// keeps while their bytes are written to clients.
const HoldBudget = 64 << 20

// SmallEntrySize is the size up to which an entry is read outside
// ReadBudget and HoldBudget.
const SmallEntrySize = 64 << 10

// ChunkCacheSize is the verified-chunk cache a served bundle should be
// opened with (bundle.WithChunkCache): hosts pulling the same layers at the
// same time then share one read and one verification of each chunk, and a
// read without a share of HoldBudget takes each piece from the cache.
// ReadBudget, HoldBudget and this cache add up to siteserver.MemoryLimit;
// per-response copy buffers and the runtime come on top, which the soft
// limit absorbs.
//
// It is sized by the machine: a 64th of its memory, at least
// MinChunkCache and at most MaxChunkCache. A chunk that misses the cache
// costs a read, a BLAKE3 pass and a copy that a hit does not; the layers
// many images share are what stays in it (see bundle.WithChunkCache), so
// a deploy node with the memory keeps more of them verified.
func ChunkCacheSize() int64 { return chunkCacheFor(totalMemory()) }

// The bounds of ChunkCacheSize. At MaxChunkCache a serving deploy stays
// under 300 MiB resident (make bench's "seed serve peak RSS").
const (
	MinChunkCache = 32 << 20
	MaxChunkCache = 128 << 20
)

// chunkCacheFor sizes the cache for a machine with mem bytes of memory
// (0 when unknown: the minimum).
func chunkCacheFor(mem int64) int64 {
	return min(max(mem/64, MinChunkCache), MaxChunkCache)
}

// totalMemory is the machine's memory in bytes, 0 when it cannot be read.
func totalMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// NewBundle serves the entries r lists (with its base's, for a delta
// opened WithBase). The caller keeps closing r. r should be opened
// with bundle.WithChunkCache(ChunkCacheSize()).
func NewBundle(r *bundle.Reader) *Bundle {
	arts := r.Artifacts()
	paths := make([]string, 0, len(arts))
	for _, a := range arts {
		paths = append(paths, a.Path)
	}
	sort.Strings(paths)
	b := &Bundle{r: r, paths: paths, read: semaphore.NewWeighted(ReadBudget), hold: semaphore.NewWeighted(HoldBudget),
		leases: map[*os.File]*fileLease{}}
	b.rawBufs = make(chan *[]byte, rawBufCount)
	for range rawBufCount {
		b.rawBufs <- new([]byte) // grown on first use
	}
	return b
}

// rawBufCount is how many frames VerifyRawChunk may read at once: as many
// as ReadBudget lets chunk reads run.
const rawBufCount = ReadBudget/(2*bundle.ChunkSize+64<<10) + 1

// Close gives up the leases on the bundle's files (see lease.go); reads
// after it take the unleased path. It does not close the bundle Reader.
func (b *Bundle) Close() error {
	b.leaseMu.Lock()
	b.closed = true
	ls := make([]*fileLease, 0, len(b.leases))
	for _, l := range b.leases {
		ls = append(ls, l)
	}
	b.leaseMu.Unlock()
	for _, l := range ls {
		l.close()
	}
	return nil
}

// lease returns the lease of rc's file, nil once the Bundle is closed.
func (b *Bundle) lease(rc bundle.RawChunk) *fileLease {
	b.leaseMu.Lock()
	defer b.leaseMu.Unlock()
	if b.closed {
		return nil
	}
	l, ok := b.leases[rc.File]
	if !ok {
		l = &fileLease{file: rc.File, frames: rc.Frames}
		b.leases[rc.File] = l
	}
	return l
}

// Stat implements Content from bundle.json alone.
func (b *Bundle) Stat(path string) (int64, string, bool) {
	a, ok := b.r.Lookup(path)
	if !ok {
		return 0, "", false
	}
	return a.Size, a.Digest, true
}

// Open implements Content with the Reader's OpenRange, one chunk at a time:
// every byte served has matched the digest of its chunk (for an entry of at
// most one chunk, the entry's digest), listed in the signed bundle.json.
// Open itself reads nothing; the budgets are taken chunk by chunk as the
// reader is read (see Bundle).
func (b *Bundle) Open(ctx context.Context, path string, off, n int64) (io.ReadCloser, error) {
	a, ok := b.r.Lookup(path)
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if n < 0 {
		n = a.Size - off
	}
	if off < 0 || n < 0 || off > a.Size || n > a.Size-off {
		return nil, fmt.Errorf("%s: range [%d, +%d) is outside its %d bytes", path, off, n, a.Size)
	}
	return &chunkStream{b: b, ctx: ctx, a: a, off: off, end: off + n, small: a.Size <= SmallEntrySize}, nil
}

// readWeight is what reading one chunk of an entry of size bytes holds: the
// chunk and the buffer it is decompressed into, plus a little.
func readWeight(size int64) int64 {
	return 2*min(size, bundle.ChunkSize) + 64<<10
}

// holdWeight is what keeping one verified chunk of an entry of size bytes
// holds.
func holdWeight(size int64) int64 {
	return min(size, bundle.ChunkSize) + 64<<10
}

// List implements Content.
func (b *Bundle) List(prefix string) []string {
	i := sort.SearchStrings(b.paths, prefix)
	j := i
	for j < len(b.paths) && strings.HasPrefix(b.paths[j], prefix) {
		j++
	}
	return append([]string(nil), b.paths[i:j]...)
}

// chunkStream reads [off, end) of an entry chunk by chunk, each through its
// own OpenRange, taking the budgets as Bundle describes. It stops
// reading once its context is done, so a request whose client went away
// stops decompressing. Not safe for concurrent use.
type chunkStream struct {
	b     *Bundle
	ctx   context.Context
	a     bundle.Artifact
	off   int64 // next byte of the entry to hand out
	end   int64
	small bool

	cur      io.ReadCloser // the open read of the current chunk, if any
	curEnd   int64         // where cur ends
	held     bool          // cur keeps its chunk with a share of HoldBudget
	readHeld bool          // a share of ReadBudget is taken for cur's load
	closed   bool
}

// openChunk opens a read of the rest of the chunk holding s.off, after
// taking a share of ReadBudget for loading it (unless the entry is small).
func (s *chunkStream) openChunk() error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	s.curEnd = min((s.off/bundle.ChunkSize+1)*bundle.ChunkSize, s.end)
	if !s.small {
		if err := s.b.read.Acquire(s.ctx, readWeight(s.a.Size)); err != nil {
			return err
		}
		s.readHeld = true
	}
	rc, err := s.b.r.OpenRange(s.a, s.off, s.curEnd-s.off)
	if err != nil {
		s.loaded()
		if errors.Is(err, bundle.ErrNotFound) {
			return fmt.Errorf("%s: %w", s.a.Path, ErrNotFound)
		}
		return err
	}
	s.cur = rc
	s.held = s.small || s.b.hold.TryAcquire(holdWeight(s.a.Size))
	return nil
}

// loaded gives back the share of ReadBudget of the current chunk's load:
// the chunk has been verified (or its read failed).
func (s *chunkStream) loaded() {
	if s.readHeld {
		s.b.read.Release(readWeight(s.a.Size))
		s.readHeld = false
	}
}

// closeChunk lets go of the current chunk and of its shares.
func (s *chunkStream) closeChunk() error {
	s.loaded()
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	if s.held && !s.small {
		s.b.hold.Release(holdWeight(s.a.Size))
	}
	s.held = false
	return err
}

func (s *chunkStream) Read(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("siteserver: read after Close")
	}
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if s.off >= s.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.cur == nil {
		if err := s.openChunk(); err != nil {
			return 0, err
		}
	}
	n, err := s.cur.Read(p[:min(int64(len(p)), s.curEnd-s.off)])
	s.loaded()
	s.off += int64(n)
	if err == io.EOF && s.off < s.curEnd {
		err = io.ErrUnexpectedEOF // the bundle Reader ended a range early
	}
	if err != nil && err != io.EOF {
		s.closeChunk()
		return n, err
	}
	if s.off >= s.curEnd || !s.held {
		// Done with the chunk, or not allowed to keep it between reads.
		s.closeChunk()
	}
	return n, nil
}

// WriteVerifiedTo implements VerifiedWriterTo: it writes the rest of the
// content to w, each piece only once it has been verified (bundle.Reader's
// readers verify a chunk before they hand out any of it). A chunk kept
// with a share of HoldBudget is written straight from the verified chunk;
// otherwise each piece is copied out and the chunk let go of before the
// piece is written, so a client that does not read holds no chunk.
func (s *chunkStream) WriteVerifiedTo(w io.Writer) (int64, bool, error) {
	w = ctxWriter{s.ctx, w}
	var total int64
	var bp *[]byte
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	for s.off < s.end {
		if s.cur == nil && !s.small {
			n, ok, err := s.writeLeased(w)
			total += n
			if err != nil {
				return total, true, err
			}
			if ok {
				continue
			}
		}
		if s.cur == nil {
			if err := s.openChunk(); err != nil {
				return total, true, err
			}
		}
		if s.held {
			wt, ok := s.cur.(io.WriterTo)
			if ok {
				n, err := wt.WriteTo(&loadedWriter{w: w, s: s})
				s.loaded()
				s.off += n
				total += n
				if err == nil && s.off < s.curEnd {
					err = io.ErrUnexpectedEOF
				}
				s.closeChunk()
				if err != nil {
					return total, true, err
				}
				continue
			}
		}
		if bp == nil {
			bp = bufPool.Get().(*[]byte)
		}
		n, err := s.Read(*bp)
		if n > 0 {
			// Read let go of the chunk unless it is held.
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, true, werr
			}
		}
		if err != nil {
			return total, true, err
		}
	}
	return total, true, nil
}

// writeLeased writes the rest of the chunk holding s.off from the mapping
// of the bundle file, when the file is leased and the chunk is one raw
// frame: after reading and verifying it first, unless it was verified
// since the lease was taken (see lease.go). ok is false, with nothing
// written, when it cannot: the chunk then takes the unleased path. A
// generation that ends part-way leaves the rest of the chunk to the next
// turn of the caller's loop.
func (s *chunkStream) writeLeased(w io.Writer) (n int64, ok bool, err error) {
	k := s.off / bundle.ChunkSize
	rc, ok := s.b.r.LocateRawChunk(s.a, k)
	if !ok {
		return 0, false, nil
	}
	l := s.b.lease(rc)
	if l == nil {
		return 0, false, nil
	}
	g := l.current()
	if g == nil {
		return 0, false, nil
	}
	if !g.isVerified(rc.Frame) {
		// Read after the lease was taken: if it matches, the file holds
		// these bytes for as long as the generation lasts.
		if err := s.b.read.Acquire(s.ctx, readWeight(s.a.Size)); err != nil {
			return 0, true, err
		}
		buf := <-s.b.rawBufs
		_, ok, err := s.b.r.VerifyRawChunk(s.a, k, buf)
		s.b.rawBufs <- buf
		s.b.read.Release(readWeight(s.a.Size))
		if err != nil || !ok {
			return 0, ok, err
		}
		g.markVerified(rc.Frame)
		s.b.leasedVerified.Add(1)
	}
	s.b.leasedSent.Add(1)
	end := min((k+1)*bundle.ChunkSize, s.end)
	last := rc.Extents[len(rc.Extents)-1]
	frameLo, frameHi := rc.Extents[0].Off, last.Off+last.Len
	pos := k * bundle.ChunkSize // the entry offset of the extent's first byte
	for _, e := range rc.Extents {
		lo, hi := pos, pos+e.Len
		pos = hi
		if hi <= s.off {
			continue
		}
		if lo >= end {
			break
		}
		from, to := e.Off+max(lo, s.off)-lo, e.Off+min(hi, end)-lo
		if !g.enter() {
			return n, true, nil
		}
		m, err := w.Write(g.data[from:to])
		g.mapped(rc.Frame, frameLo, frameHi)
		g.leave()
		s.off += int64(m)
		n += int64(m)
		if err != nil {
			return n, true, err
		}
	}
	return n, true, nil
}

// loadedWriter gives back the load's share of ReadBudget before the first
// write: by then the chunk has been verified.
type loadedWriter struct {
	w io.Writer
	s *chunkStream
}

func (l *loadedWriter) Write(p []byte) (int, error) {
	l.s.loaded()
	return l.w.Write(p)
}

// bufferSize is the piece a read without a share of HoldBudget copies out
// at a time; the copy buffers are pooled.
const bufferSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// ctxWriter stops writing once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Close lets go of the chunk and the shares the stream holds.
func (s *chunkStream) Close() error {
	s.closed = true
	return s.closeChunk()
}
