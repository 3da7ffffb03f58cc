package seekable

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// Incompressible frames are written as raw blocks without running the
// encoder over them. Bundles are mostly gzip layers, RPMs and .tgz charts,
// which zstd cannot shrink: the encoder would spend about 1 s of CPU per
// 2 GiB finding that out block by block, and then emit raw blocks anyway.
// The writer instead compresses a few samples of the frame; when none of
// them shrinks by rawSampleGain, the frame is stored raw. The decision
// depends only on the frame's bytes and the level, so the output stays
// reproducible. A frame that is raw here could at best have shrunk by about
// what its samples did, so the cost in size is under rawSampleGain, plus
// its two edges.
//
// The samples leave out rawEdge bytes at each end of the frame. A bundle's
// frames are chunks of entries, and an entry's edges are where the zeros
// are: the bundle's tar header before a first chunk (512 bytes, most of
// them zeros) and its tar padding after a last one (up to 511 zeros),
// and, for a layer that is an uncompressed tar, that tar's own end (two
// zero blocks, or up to a 10 KiB record). Those zeros alone made a random
// chunk's edge sample compress by more than 1%: the last chunk of every
// uncompressed layer went through the encoder, was read back through the
// decoder, and could not be sent from the file as raw blocks.

const (
	// rawMinFrame is the smallest frame considered for the raw path.
	rawMinFrame = 256 << 10
	// rawSample is the size of each sample; rawSamples are taken, spread
	// evenly from the start to the end of the frame.
	rawSample  = 32 << 10
	rawSamples = 4
	// rawSampleGain: a sample that compresses to less than this fraction
	// of its size sends the whole frame to the encoder.
	rawSampleGain = 0.99
	// rawEdge is what the samples leave out at each end of a frame.
	rawEdge = 16 << 10
	// rawBlockMax is zstd's largest block.
	rawBlockMax = 128 << 10
)

// frameMagic opens every zstd frame.
const frameMagic = 0xFD2FB528

// incompressible reports whether the frame p should be stored raw. scratch
// is reused between calls; the returned slice is the grown scratch.
func incompressible(enc *zstd.Encoder, p, scratch []byte) (bool, []byte) {
	if len(p) < rawMinFrame {
		return false, scratch
	}
	inner := p[rawEdge : len(p)-rawEdge]
	step := (len(inner) - rawSample) / (rawSamples - 1)
	for i := range rawSamples {
		s := inner[i*step : i*step+rawSample]
		scratch = enc.EncodeAll(s, scratch[:0])
		if float64(len(scratch)) < rawSampleGain*float64(len(s)) {
			return false, scratch
		}
	}
	return true, scratch
}

// appendRawFrame appends p to dst as one zstd frame of raw blocks, in the
// shape the encoder gives every frame: single segment, content size,
// content checksum (the low 32 bits of XXH64).
func appendRawFrame(dst, p []byte) []byte {
	dst = appendRawHeader(dst, int64(len(p)))
	for off := 0; ; {
		size := min(rawBlockMax, len(p)-off)
		last := off+size == len(p)
		dst = appendRawBlockHeader(dst, size, last)
		dst = append(dst, p[off:off+size]...)
		off += size
		if last {
			break
		}
	}
	return binary.LittleEndian.AppendUint32(dst, uint32(xxhash.Sum64(p)))
}

// appendRawHeader appends the frame header of a raw frame of n bytes.
func appendRawHeader(dst []byte, n int64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, frameMagic)
	const single, checksum = 1 << 5, 1 << 2
	switch {
	case n < 256:
		return append(dst, single|checksum, byte(n))
	case n < 256+1<<16:
		return binary.LittleEndian.AppendUint16(append(dst, 1<<6|single|checksum), uint16(n-256))
	case n < 1<<32:
		return binary.LittleEndian.AppendUint32(append(dst, 2<<6|single|checksum), uint32(n))
	default:
		return binary.LittleEndian.AppendUint64(append(dst, 3<<6|single|checksum), uint64(n))
	}
}

// appendRawBlockHeader appends the header of a raw block of size bytes.
func appendRawBlockHeader(dst []byte, size int, last bool) []byte {
	h := uint32(size) << 3 // block type 0: raw
	if last {
		h |= 1
	}
	return append(dst, byte(h), byte(h>>8), byte(h>>16))
}

// rawBlocks is the number of blocks of a raw frame of n bytes.
func rawBlocks(n int64) int64 {
	return max(1, (n+rawBlockMax-1)/rawBlockMax)
}

// rawHeaderLen is the length of appendRawHeader's header for n bytes: the
// magic, the descriptor byte and a content size of 1, 2, 4 or 8 bytes.
func rawHeaderLen(n int64) int64 {
	switch {
	case n < 256:
		return 6
	case n < 256+1<<16:
		return 7
	case n < 1<<32:
		return 9
	default:
		return 13
	}
}

// rawFrameSize is the size of the raw frame appendRawFrame makes for n
// bytes. Readers compare it with every frame's size, so it allocates
// nothing.
func rawFrameSize(n int64) int64 {
	return rawHeaderLen(n) + 3*rawBlocks(n) + n + 4
}

// maxRawIovecs bounds the pieces of one vectored read (Linux's IOV_MAX is
// 1024); frames with more blocks take the decoder's path.
const maxRawIovecs = 1024

// readRaw reads frame i, whose compressed size says it may be a raw frame,
// straight into dst: the block payloads land in place, so there is nothing
// to decompress and nothing to move. ok is false, with dst untouched in
// meaning, when the frame is not the raw frame its size suggested (the
// caller then decodes it, which also reports any damage precisely); err is
// a read error or a checksum mismatch. With check false the content
// checksum is not computed: for callers that verify the bytes with a
// cryptographic digest of their own.
func (r *Reader) readRaw(i int, dst []byte, check bool) (out []byte, ok bool, err error) {
	f := r.frames[i]
	n := f.UncompressedSize
	blocks := rawBlocks(n)
	if 2*blocks+2 > maxRawIovecs {
		return dst, false, nil
	}
	want := appendRawHeader(make([]byte, 0, 16+3*blocks+4), n)
	hdrLen := len(want)
	for k := int64(0); k < blocks; k++ {
		size := min(rawBlockMax, n-k*rawBlockMax)
		want = appendRawBlockHeader(want, int(size), k == blocks-1)
	}
	scratch := make([]byte, len(want)+4)
	start := len(dst)
	out = dst[:start+int(n)]
	data := out[start:]
	iovs := make([][]byte, 0, 2*blocks+2)
	s := scratch
	iovs = append(iovs, s[:hdrLen+3])
	s = s[hdrLen+3:]
	for k := int64(0); k < blocks; k++ {
		lo := k * rawBlockMax
		iovs = append(iovs, data[lo:min(lo+rawBlockMax, n)])
		if k < blocks-1 {
			iovs = append(iovs, s[:3])
			s = s[3:]
		}
	}
	iovs = append(iovs, s[:4])
	if err := r.readv(iovs, f.Offset, f.CompressedSize); err != nil {
		return dst, true, err
	}
	if string(scratch[:len(want)]) != string(want) {
		return dst, false, nil
	}
	if check {
		sum := binary.LittleEndian.Uint32(scratch[len(want):])
		if uint32(xxhash.Sum64(data)) != sum {
			return dst, true, corruptf("frame %d at offset %d: content checksum mismatch", i, f.Offset)
		}
	}
	return out, true, nil
}

// readv fills iovs, which add up to size bytes, from offset off: with one
// preadv when the file allows, else one ReadAt per piece. Safe for
// concurrent use: the preadv runs under RawConn.Control, which only keeps
// the descriptor open, like os.File.ReadAt's pread. (RawConn.Read would
// also take the file's read lock, and every chunk read of a served bundle
// would wait for the one before it: a positional read needs no lock.)
func (r *Reader) readv(iovs [][]byte, off, size int64) error {
	if sc, ok := r.ra.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			var n int
			var rerr error
			cerr := rc.Control(func(fd uintptr) {
				n, rerr = unix.Preadv(int(fd), iovs, off)
			})
			if cerr == nil && rerr == nil && int64(n) == size {
				return nil
			}
			// A short or failed vectored read: read the pieces one by one,
			// which reports a short file as corruption.
		}
	}
	for _, v := range iovs {
		if err := readFull(r.ra, v, off); err != nil {
			return err
		}
		off += int64(len(v))
	}
	return nil
}

// Extent is a range of bytes of the file.
type Extent struct{ Off, Len int64 }

// RawExtents returns the file ranges that hold bytes [off, off+n) of frame
// i's content, in order, when the seek table's sizes say the frame is
// stored as raw blocks (the ranges skip the blocks' 3-byte headers). It
// reads nothing: only ReadRaw checks that the frame is in fact raw. ok is
// false for other frames and for a range outside the frame.
func (r *Reader) RawExtents(i int, off, n int64) ([]Extent, bool) {
	if i < 0 || i >= len(r.frames) {
		return nil, false
	}
	f := r.frames[i]
	if f.CompressedSize != rawFrameSize(f.UncompressedSize) || 2*rawBlocks(f.UncompressedSize)+2 > maxRawIovecs ||
		off < 0 || n < 0 || off > f.UncompressedSize || n > f.UncompressedSize-off {
		return nil, false
	}
	ext := make([]Extent, 0, n/rawBlockMax+2)
	base := f.Offset + rawHeaderLen(f.UncompressedSize)
	for end := off + n; off < end; {
		b := off / rawBlockMax
		size := min(end, (b+1)*rawBlockMax) - off
		ext = append(ext, Extent{Off: base + b*(rawBlockMax+3) + 3 + off%rawBlockMax, Len: size})
		off += size
	}
	return ext, true
}

// ReadRaw appends frame i's content to dst when the frame is stored as raw
// blocks, with one vectored read. It checks the frame header and every
// block header, not the content checksum: it is for callers that check the
// content against a cryptographic digest of their own. ok is false, with
// dst as it was, when the frame is not raw (read it with DecodeFrame).
func (r *Reader) ReadRaw(i int, dst []byte) (out []byte, ok bool, err error) {
	if i < 0 || i >= len(r.frames) {
		return dst, false, fmt.Errorf("seekable: frame %d out of range (%d frames)", i, len(r.frames))
	}
	f := r.frames[i]
	if f.CompressedSize != rawFrameSize(f.UncompressedSize) {
		return dst, false, nil
	}
	if int64(cap(dst)-len(dst)) < f.UncompressedSize {
		dst = append(make([]byte, 0, int64(len(dst))+f.UncompressedSize), dst...)
	}
	return r.readRaw(i, dst, false)
}
