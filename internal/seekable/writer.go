package seekable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DefaultLevel is the compression level of every frame: SpeedDefault.
//
// Measured with BenchmarkLevels (4 MiB frames, 2 shared cores):
//
//	random data:  SpeedFastest 0.9-1.8 GB/s, SpeedDefault 1.2-1.6 GB/s, ratio 1.00 for both
//	text-like:    SpeedFastest 280 MB/s ratio 4.23, SpeedDefault 150 MB/s ratio 4.50
//
// Bundles are dominated by already-compressed blobs (gzip layers, RPMs,
// .tgz charts). On those both levels detect incompressible blocks and emit
// raw blocks at the same, memory-bound speed, so the level costs nothing
// there. It only matters for the compressible minority (manifests,
// repodata, plain files), where SpeedDefault is about 6% smaller for twice
// the CPU: a small absolute cost that buys bytes on removable media.
const DefaultLevel = zstd.SpeedDefault

// WriterOption configures a Writer.
type WriterOption func(*writerOptions) error

type writerOptions struct {
	workers  int
	level    zstd.EncoderLevel
	maxFrame int
	hint     int
	window   int
}

// WithWorkers sets how many frames are compressed at the same time
// (default GOMAXPROCS). The output does not depend on it.
func WithWorkers(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < 1 {
			return fmt.Errorf("seekable: workers must be at least 1, got %d", n)
		}
		o.workers = n
		return nil
	}
}

// WithLevel sets the compression level of every frame (default DefaultLevel).
func WithLevel(l zstd.EncoderLevel) WriterOption {
	return func(o *writerOptions) error {
		if l < zstd.SpeedFastest || l > zstd.SpeedBestCompression {
			return fmt.Errorf("seekable: unknown encoder level %d", l)
		}
		o.level = l
		return nil
	}
}

// WithMaxFrameSize sets the largest uncompressed frame the Writer accepts
// (default DefaultMaxFrameSize). Readers refuse frames above their own limit,
// so raise it on both sides or not at all.
func WithMaxFrameSize(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < 1 || n > 1<<30 {
			return fmt.Errorf("seekable: max frame size %d out of range (1 B to 1 GiB)", n)
		}
		o.maxFrame = n
		return nil
	}
}

// WithFrameSizeHint tells the Writer the usual size of a frame, so that its
// buffers are allocated once at the right size instead of growing. The
// output does not depend on it.
func WithFrameSizeHint(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < 0 {
			return fmt.Errorf("seekable: negative frame size hint %d", n)
		}
		o.hint = n
		return nil
	}
}

// WithWindowSize sets the encoder's match window (a power of two, at least
// 1 KiB; default 4 MiB). Matches never reach across frames anyway, so a
// window larger than the usual frame only costs encoder memory. It is part
// of the encoding: the same window gives the same bytes.
func WithWindowSize(n int) WriterOption {
	return func(o *writerOptions) error {
		if n < zstd.MinWindowSize || n > zstd.MaxWindowSize || n&(n-1) != 0 {
			return fmt.Errorf("seekable: window size %d is not a power of two between %d and %d", n, zstd.MinWindowSize, zstd.MaxWindowSize)
		}
		o.window = n
		return nil
	}
}

// ErrClosed is returned by a Writer used after Close or Abort.
var ErrClosed = errors.New("seekable: writer is closed")

// Writer compresses frames in parallel and writes them, in the order they
// were ended, to the underlying writer, followed at Close by the seek table.
//
// The caller decides frame boundaries: Write appends to the current frame and
// EndFrame ends it. Each frame becomes one independent zstd frame with its
// content size and content checksum. The bytes written depend only on the
// frames and the options, never on the number of workers. Memory is bounded:
// at most workers+2 frames (each with its input and compressed buffers) are
// in flight, plus the frame being filled; Write and EndFrame block while the
// pipeline is full. Buffers are reused from frame to frame.
//
// A Writer is not safe for concurrent use. After any error it is unusable:
// every later call returns the same error. Call Close to finish the file, or
// Abort to give up; either stops the worker goroutines.
type Writer struct {
	w    io.Writer
	opts writerOptions

	cur     *[]byte // frame being filled, from bufs
	bufs    bufferPool
	work    chan *job // to the compressing workers
	order   chan *job // to the output goroutine, in frame order
	workers sync.WaitGroup
	outDone chan struct{}
	started bool
	closed  bool

	mu      sync.Mutex
	err     error        // first error; guarded by mu
	entries []tableEntry // owned by the output goroutine until outDone
	written int64        // compressed bytes written; owned like entries
}

type job struct {
	in    *[]byte // released by the worker once compressed
	out   *[]byte // taken by the worker when it starts compressing
	dsize int     // uncompressed size
	done  chan struct{}
}

// bufferPool is a bounded free list of frame buffers. Unlike sync.Pool it
// survives garbage collections, so a steady stream of frames reuses the same
// few buffers instead of allocating new ones.
type bufferPool struct {
	free chan *[]byte
	size int // capacity of new buffers
}

// get returns an empty buffer.
func (p bufferPool) get() *[]byte {
	select {
	case b := <-p.free:
		*b = (*b)[:0]
		return b
	default:
		b := make([]byte, 0, p.size)
		return &b
	}
}

// put returns b to the free list, or drops it when the list is full.
func (p bufferPool) put(b *[]byte) {
	select {
	case p.free <- b:
	default:
	}
}

// NewWriter returns a Writer that writes the seekable stream to w.
func NewWriter(w io.Writer, opts ...WriterOption) (*Writer, error) {
	o := writerOptions{workers: runtime.GOMAXPROCS(0), level: DefaultLevel, maxFrame: DefaultMaxFrameSize, window: 4 << 20}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	size := 0
	if o.hint > 0 {
		size = int(compressBound(int64(o.hint)))
	}
	return &Writer{w: w, opts: o, bufs: bufferPool{free: make(chan *[]byte, 4*o.workers+4), size: size}}, nil
}

// Write appends p to the current frame.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	if w.cur == nil {
		w.cur = w.bufs.get()
	}
	need := len(*w.cur) + len(p)
	if need > w.opts.maxFrame {
		return 0, w.fail(fmt.Errorf("seekable: frame would exceed %d bytes", w.opts.maxFrame))
	}
	if need > cap(*w.cur) {
		grown := make([]byte, len(*w.cur), min(max(need, 2*cap(*w.cur), w.bufs.size, 64<<10), w.opts.maxFrame))
		copy(grown, *w.cur)
		*w.cur = grown
	}
	*w.cur = append(*w.cur, p...)
	return len(p), nil
}

// EndFrame ends the current frame and queues it for compression. It does
// nothing when the current frame is empty.
func (w *Writer) EndFrame() error {
	if err := w.check(); err != nil {
		return err
	}
	if w.cur == nil || len(*w.cur) == 0 {
		return nil
	}
	w.start()
	j := &job{in: w.cur, dsize: len(*w.cur), done: make(chan struct{})}
	w.cur = nil
	w.order <- j
	w.work <- j
	return nil
}

// WriteFrame writes p as one frame of its own, ending any current frame
// first.
func (w *Writer) WriteFrame(p []byte) error {
	if err := w.EndFrame(); err != nil {
		return err
	}
	if _, err := w.Write(p); err != nil {
		return err
	}
	return w.EndFrame()
}

// WriteSkippable ends any current frame and writes a skippable frame with
// the given magic (0x184D2A50 to 0x184D2A5F, except the seek table's own)
// and payload. It is listed in the seek table with a decompressed size of 0.
func (w *Writer) WriteSkippable(magic uint32, payload []byte) error {
	if magic < SkippableMagicMin || magic > SkippableMagicMax || magic == SeekTableMagic {
		return fmt.Errorf("seekable: %#08x is not a usable skippable-frame magic", magic)
	}
	if len(payload) > w.opts.maxFrame {
		return fmt.Errorf("seekable: skippable payload of %d bytes exceeds %d", len(payload), w.opts.maxFrame)
	}
	if err := w.EndFrame(); err != nil {
		return err
	}
	w.start()
	out := w.bufs.get()
	b := binary.LittleEndian.AppendUint32(*out, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	*out = append(b, payload...)
	j := &job{out: out, done: make(chan struct{})}
	close(j.done)
	w.order <- j
	return nil
}

// Close ends the current frame, waits for every frame to be written, and
// writes the seek table. It does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.EndFrame(); err != nil {
		w.stop()
		return err
	}
	w.start()
	w.stop()
	if err := w.check(); err != nil {
		return err
	}
	w.closed = true
	table := appendSeekTable(nil, w.entries)
	if _, err := w.w.Write(table); err != nil {
		return w.setErr(fmt.Errorf("seekable: writing the seek table: %w", err))
	}
	w.written += int64(len(table))
	return nil
}

// Abort stops the workers and discards what is not written yet. The output
// is left incomplete. Abort is safe to call after Close or after an error.
func (w *Writer) Abort() {
	w.fail(ErrClosed)
	w.stop()
}

// Written returns the number of bytes written to the underlying writer,
// seek table included. Call it only after a successful Close.
func (w *Writer) Written() int64 { return w.written }

func (w *Writer) firstErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) check() error {
	if err := w.firstErr(); err != nil {
		return err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// setErr records err as the Writer's error unless one is already set.
func (w *Writer) setErr(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// fail records err and drops the current frame.
func (w *Writer) fail(err error) error {
	if w.cur != nil {
		w.bufs.put(w.cur)
		w.cur = nil
	}
	return w.setErr(err)
}

// start launches the workers and the output goroutine on first use.
func (w *Writer) start() {
	if w.started {
		return
	}
	w.started = true
	n := w.opts.workers
	w.work = make(chan *job, n)
	w.order = make(chan *job, n+1)
	w.outDone = make(chan struct{})
	for range n {
		w.workers.Add(1)
		go w.compress()
	}
	go w.output()
}

// stop closes the queues and waits for every goroutine. Idempotent.
func (w *Writer) stop() {
	if !w.started || w.order == nil {
		return
	}
	close(w.work)
	close(w.order)
	w.workers.Wait()
	<-w.outDone
	w.order = nil
}

// compress is one worker: it owns one single-threaded encoder.
func (w *Writer) compress() {
	defer w.workers.Done()
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(w.opts.level),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
		zstd.WithSingleSegment(true),
		zstd.WithWindowSize(w.opts.window),
		zstd.WithLowerEncoderMem(true), // smaller history; same output
	)
	if err != nil {
		w.setErr(fmt.Errorf("seekable: creating encoder: %w", err))
	}
	var scratch []byte
	for j := range w.work {
		j.out = w.bufs.get()
		if enc != nil {
			if bound := int(compressBound(int64(j.dsize))); cap(*j.out) < bound {
				*j.out = make([]byte, 0, bound)
			}
			var raw bool
			raw, scratch = incompressible(enc, *j.in, scratch)
			if raw {
				*j.out = appendRawFrame((*j.out)[:0], *j.in)
			} else {
				*j.out = enc.EncodeAll(*j.in, (*j.out)[:0])
			}
		}
		w.bufs.put(j.in)
		j.in = nil
		close(j.done)
	}
	if enc != nil {
		_ = enc.Close()
	}
}

// output writes finished frames in order and records their sizes.
func (w *Writer) output() {
	defer close(w.outDone)
	for j := range w.order {
		<-j.done
		if w.firstErr() == nil {
			w.emit(j)
		}
		w.bufs.put(j.out)
	}
}

// emit writes one finished frame and appends its seek-table entry.
func (w *Writer) emit(j *job) {
	dsize := j.dsize
	if len(*j.out) > 1<<32-1 {
		w.setErr(fmt.Errorf("seekable: compressed frame of %d bytes does not fit the seek table", len(*j.out)))
		return
	}
	if _, err := w.w.Write(*j.out); err != nil {
		w.setErr(fmt.Errorf("seekable: writing frame %d: %w", len(w.entries), err))
		return
	}
	w.written += int64(len(*j.out))
	w.entries = append(w.entries, tableEntry{compressed: uint32(len(*j.out)), decompressed: uint32(dsize)})
}
