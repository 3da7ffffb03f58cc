package seekable

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Frame locates one frame in the compressed file and in the uncompressed
// stream. Skippable frames have UncompressedSize 0.
type Frame struct {
	Offset             int64 // in the file
	CompressedSize     int64
	UncompressedOffset int64 // in the uncompressed stream
	UncompressedSize   int64
}

// ReaderOption configures a Reader.
type ReaderOption func(*readerOptions) error

type readerOptions struct {
	maxFrame    int64
	concurrency int
}

// WithReaderMaxFrameSize sets the largest decompressed frame the Reader
// accepts (default DefaultMaxFrameSize). A file whose seek table claims a
// bigger frame is refused when opened.
func WithReaderMaxFrameSize(n int64) ReaderOption {
	return func(o *readerOptions) error {
		if n < 1 || n > 1<<30 {
			return fmt.Errorf("seekable: max frame size %d out of range (1 B to 1 GiB)", n)
		}
		o.maxFrame = n
		return nil
	}
}

// WithDecoderConcurrency sets how many frames may be decompressed at the
// same time (default GOMAXPROCS). Further reads wait.
func WithDecoderConcurrency(n int) ReaderOption {
	return func(o *readerOptions) error {
		if n < 1 {
			return fmt.Errorf("seekable: decoder concurrency must be at least 1, got %d", n)
		}
		o.concurrency = n
		return nil
	}
}

// Reader gives random access to the uncompressed stream of a seekable file.
// It is safe for concurrent use: it keeps no position, and every read goes
// through ReadAt on the underlying file.
type Reader struct {
	ra       io.ReaderAt
	size     int64 // of the file
	frames   []Frame
	dataEnd  int64 // offset of the seek table in the file
	total    int64 // uncompressed size
	maxFrame int64
	dec      *zstd.Decoder
	bufs     sync.Pool // of *[]byte, compressed frames
}

// NewReader parses and checks the seek table at the end of ra, which holds
// size bytes. It refuses a table whose frames do not exactly fill the file
// before the table, whose counts or sizes overflow, or whose frames exceed
// the maximum frame size. Frames themselves are only checked when read.
// Close the Reader to release its decoder.
func NewReader(ra io.ReaderAt, size int64, opts ...ReaderOption) (*Reader, error) {
	o := readerOptions{maxFrame: DefaultMaxFrameSize}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	r := &Reader{ra: ra, size: size, maxFrame: o.maxFrame}
	r.bufs.New = func() any { return new([]byte) }
	entries, err := r.readTable()
	if err != nil {
		return nil, err
	}
	if err := r.layout(entries); err != nil {
		return nil, err
	}
	r.dec, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(o.concurrency),
		zstd.WithDecoderMaxMemory(uint64(o.maxFrame)),
		zstd.WithDecoderMaxWindow(max(uint64(o.maxFrame), zstd.MinWindowSize)),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		return nil, fmt.Errorf("seekable: creating decoder: %w", err)
	}
	return r, nil
}

// readTable reads the footer and the seek-table frame.
func (r *Reader) readTable() ([]tableEntry, error) {
	if r.size < skippableHeaderSize+footerSize {
		return nil, corruptf("file of %d bytes is too short to hold a seek table", r.size)
	}
	var footer [footerSize]byte
	if err := readFull(r.ra, footer[:], r.size-footerSize); err != nil {
		return nil, err
	}
	frames, esize, err := parseFooter(footer[:])
	if err != nil {
		return nil, err
	}
	tsize := seekTableSize(frames, esize)
	if tsize > r.size {
		return nil, corruptf("seek table of %d frames (%d bytes) is larger than the file (%d bytes)", frames, tsize, r.size)
	}
	table := make([]byte, tsize)
	if err := readFull(r.ra, table, r.size-tsize); err != nil {
		return nil, err
	}
	r.dataEnd = r.size - tsize
	return parseSeekTable(table, frames, esize)
}

// layout computes every frame's offsets and checks them against the file.
func (r *Reader) layout(entries []tableEntry) error {
	r.frames = make([]Frame, len(entries))
	var off, uoff int64
	bound := compressBound(r.maxFrame)
	for i, e := range entries {
		c, d := int64(e.compressed), int64(e.decompressed)
		if d > r.maxFrame {
			return corruptf("frame %d claims %d decompressed bytes, more than the limit %d", i, d, r.maxFrame)
		}
		if c < skippableHeaderSize || c > bound {
			return corruptf("frame %d has an impossible compressed size %d", i, c)
		}
		if c > r.dataEnd-off {
			return corruptf("frame %d (offset %d, %d bytes) extends past the seek table at %d", i, off, c, r.dataEnd)
		}
		r.frames[i] = Frame{Offset: off, CompressedSize: c, UncompressedOffset: uoff, UncompressedSize: d}
		off += c
		uoff += d
	}
	if off != r.dataEnd {
		return corruptf("frames end at %d but the seek table starts at %d (truncated or extra data)", off, r.dataEnd)
	}
	r.total = uoff
	return nil
}

// compressBound is the largest compressed size of a frame holding n bytes
// (zstd's ZSTD_compressBound plus frame header and checksum).
func compressBound(n int64) int64 {
	return n + n>>8 + 1<<17
}

// Close releases the decoder. It does not close the underlying file.
func (r *Reader) Close() error {
	r.dec.Close()
	return nil
}

// Size returns the size of the uncompressed stream.
func (r *Reader) Size() int64 { return r.total }

// CompressedSize returns the size of the file.
func (r *Reader) CompressedSize() int64 { return r.size }

// NumFrames returns the number of frames in the seek table.
func (r *Reader) NumFrames() int { return len(r.frames) }

// Frame returns frame i; it panics if i is out of range.
func (r *Reader) Frame(i int) Frame { return r.frames[i] }

// FrameAt returns the index of the data frame holding uncompressed offset
// off, or false when off is outside the stream.
func (r *Reader) FrameAt(off int64) (int, bool) {
	if off < 0 || off >= r.total {
		return 0, false
	}
	i := sort.Search(len(r.frames), func(i int) bool {
		f := r.frames[i]
		return f.UncompressedOffset+f.UncompressedSize > off
	})
	return i, i < len(r.frames)
}

// ReadRawFrame returns the raw bytes of frame i as stored in the file,
// header included. Use it for skippable frames.
func (r *Reader) ReadRawFrame(i int) ([]byte, error) {
	if i < 0 || i >= len(r.frames) {
		return nil, fmt.Errorf("seekable: frame %d out of range (%d frames)", i, len(r.frames))
	}
	f := r.frames[i]
	b := make([]byte, f.CompressedSize)
	if err := readFull(r.ra, b, f.Offset); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadAt reads len(p) bytes of the uncompressed stream from offset off,
// decompressing only the frames that hold them. Every frame read is checked:
// its header, its declared content size and its content checksum. It returns
// io.EOF when the stream ends before p is full.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.readAt(p, off, true)
}

// ReadAtUnchecked is ReadAt without the content checksum of frames stored
// as raw blocks, whose bytes are then read straight into p and not touched
// again. It is for callers that check what they read against a
// cryptographic digest of their own anyway (the bundle reader checks every
// chunk): the checksum would only repeat, more weakly, what they check.
func (r *Reader) ReadAtUnchecked(p []byte, off int64) (int, error) {
	return r.readAt(p, off, false)
}

func (r *Reader) readAt(p []byte, off int64, check bool) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("seekable: negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		i, ok := r.FrameAt(off + int64(n))
		if !ok {
			return n, io.EOF
		}
		m, err := r.readFromFrame(i, p[n:], off+int64(n), check)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readFromFrame copies from frame i, starting at uncompressed offset off,
// into p. A frame wholly inside p is decompressed straight into it.
func (r *Reader) readFromFrame(i int, p []byte, off int64, check bool) (int, error) {
	f := r.frames[i]
	skip := off - f.UncompressedOffset
	if skip == 0 && int64(len(p)) >= f.UncompressedSize {
		dst := p[:0:f.UncompressedSize]
		out, err := r.decodeFrameCheck(i, dst, check)
		if err != nil {
			return 0, err
		}
		return len(out), nil // decoded in place
	}
	buf := r.getBuf()
	defer r.bufs.Put(buf)
	out, err := r.decodeFrameCheck(i, *buf, check)
	if cap(out) > cap(*buf) {
		*buf = out[:0]
	}
	if err != nil {
		return 0, err
	}
	return copy(p, out[skip:]), nil
}

// DecodeFrame decompresses data frame i, appending to dst, and checks its
// header, size and checksum.
func (r *Reader) DecodeFrame(i int, dst []byte) ([]byte, error) {
	if i < 0 || i >= len(r.frames) {
		return dst, fmt.Errorf("seekable: frame %d out of range (%d frames)", i, len(r.frames))
	}
	return r.decodeFrame(i, dst)
}

func (r *Reader) decodeFrame(i int, dst []byte) ([]byte, error) {
	return r.decodeFrameCheck(i, dst, true)
}

// decodeFrameCheck is decodeFrame; check false skips the content checksum
// of raw frames (see ReadAtUnchecked).
func (r *Reader) decodeFrameCheck(i int, dst []byte, check bool) ([]byte, error) {
	f := r.frames[i]
	if f.CompressedSize == rawFrameSize(f.UncompressedSize) {
		if int64(cap(dst)-len(dst)) < f.UncompressedSize {
			dst = append(make([]byte, 0, int64(len(dst))+f.UncompressedSize), dst...)
		}
		if out, ok, err := r.readRaw(i, dst, check); ok {
			return out, err
		}
	}
	in := r.getBuf()
	defer r.bufs.Put(in)
	if int64(cap(*in)) < f.CompressedSize {
		// Rounded up to whole MiB, so pooled buffers fit the next frame.
		*in = make([]byte, (f.CompressedSize+1<<20-1)&^(1<<20-1))
	}
	raw := (*in)[:f.CompressedSize]
	if err := readFull(r.ra, raw, f.Offset); err != nil {
		return dst, err
	}
	if err := r.checkHeader(i, raw); err != nil {
		return dst, err
	}
	if int64(cap(dst)-len(dst)) < f.UncompressedSize {
		dst = append(make([]byte, 0, int64(len(dst))+f.UncompressedSize), dst...)
	}
	start := len(dst)
	out, err := r.dec.DecodeAll(raw, dst[:start:start+int(f.UncompressedSize)])
	if err != nil {
		return dst, corruptf("frame %d at offset %d: %v", i, f.Offset, err)
	}
	if int64(len(out)-start) != f.UncompressedSize {
		return dst, corruptf("frame %d at offset %d decoded to %d bytes, the seek table says %d", i, f.Offset, len(out)-start, f.UncompressedSize)
	}
	return out, nil
}

// checkHeader refuses frames that are not plain single-segment zstd frames
// with a content size equal to the seek table's, a content checksum and no
// dictionary (every header byte is then significant), and
// frames whose reserved or unused header bits are set (this package never
// sets them, so a set bit means damage).
func (r *Reader) checkHeader(i int, raw []byte) error {
	var h zstd.Header
	if err := h.Decode(raw); err != nil {
		return corruptf("frame %d at offset %d: bad header: %v", i, r.frames[i].Offset, err)
	}
	f := r.frames[i]
	const fhdUnusedReserved = 0x18
	switch {
	case h.Skippable:
		return corruptf("frame %d at offset %d is a skippable frame where data was expected", i, f.Offset)
	case !h.HasFCS || int64(h.FrameContentSize) != f.UncompressedSize:
		return corruptf("frame %d at offset %d: header content size does not match the seek table's %d", i, f.Offset, f.UncompressedSize)
	case !h.SingleSegment:
		return corruptf("frame %d at offset %d is not a single-segment frame", i, f.Offset)
	case !h.HasCheckSum:
		return corruptf("frame %d at offset %d has no content checksum", i, f.Offset)
	case h.DictionaryID != 0:
		return corruptf("frame %d at offset %d needs dictionary %d", i, f.Offset, h.DictionaryID)
	case raw[4]&fhdUnusedReserved != 0:
		return corruptf("frame %d at offset %d has unused header bits set", i, f.Offset)
	}
	return nil
}

// getBuf returns an empty pooled buffer.
func (r *Reader) getBuf() *[]byte {
	b := r.bufs.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// readFull reads exactly len(b) bytes at off, reporting a short file as
// corruption.
func readFull(ra io.ReaderAt, b []byte, off int64) error {
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corruptf("file ends at %d, before %d bytes at offset %d (truncated?)", off+int64(n), len(b), off)
	}
	return fmt.Errorf("seekable: reading %d bytes at offset %d: %w", len(b), off, err)
}
