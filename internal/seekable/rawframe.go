package seekable

import (
	"encoding/binary"

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
// what its samples did, so the cost in size is under rawSampleGain.

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
	step := (len(p) - rawSample) / (rawSamples - 1)
	for i := range rawSamples {
		s := p[i*step : i*step+rawSample]
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
	dst = binary.LittleEndian.AppendUint32(dst, frameMagic)
	const single, checksum = 1 << 5, 1 << 2
	n := uint64(len(p))
	switch {
	case n < 256:
		dst = append(dst, single|checksum, byte(n))
	case n < 256+1<<16:
		dst = binary.LittleEndian.AppendUint16(append(dst, 1<<6|single|checksum), uint16(n-256))
	case n < 1<<32:
		dst = binary.LittleEndian.AppendUint32(append(dst, 2<<6|single|checksum), uint32(n))
	default:
		dst = binary.LittleEndian.AppendUint64(append(dst, 3<<6|single|checksum), n)
	}
	for off := 0; ; {
		size := min(rawBlockMax, len(p)-off)
		last := 0
		if off+size == len(p) {
			last = 1
		}
		h := uint32(size)<<3 | uint32(last) // block type 0: raw
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, p[off:off+size]...)
		off += size
		if last == 1 {
			break
		}
	}
	return binary.LittleEndian.AppendUint32(dst, uint32(xxhash.Sum64(p)))
}
