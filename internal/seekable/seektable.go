// Package seekable writes and reads zstd's seekable format: a stream of
// independent zstd frames followed by a seek table in a skippable frame, as
// defined by facebook/zstd's contrib/seekable_format.
//
// Any zstd decoder reads such a file as one ordinary stream (it skips the
// skippable frames), while a Reader reaches any uncompressed offset by
// decompressing only the frames that hold it.
//
// The seek table written here has no per-frame checksum (descriptor byte 0):
// every data frame carries zstd's own content checksum (XXH64), which the
// decoder checks whenever a frame is read, so a second checksum would add
// nothing. Skippable frames written with WriteSkippable are listed in the seek
// table with a decompressed size of 0, so the compressed sizes of the entries
// always add up to the offset of the seek table itself.
//
// The Reader is stricter than the specification, because it exists to read
// files this package wrote, possibly from a hostile source: every data frame
// must declare its content size and carry a content checksum, and every size
// and offset is bounds-checked against the file before it is used.
package seekable

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// SeekTableMagic is the skippable-frame magic number of the seek table.
	SeekTableMagic uint32 = 0x184D2A5E
	// FooterMagic ends the seek table and therefore the file.
	FooterMagic uint32 = 0x8F92EAB1
	// SkippableMagicMin and SkippableMagicMax bound zstd's skippable-frame
	// magic numbers.
	SkippableMagicMin uint32 = 0x184D2A50
	SkippableMagicMax uint32 = 0x184D2A5F

	// DefaultMaxFrameSize bounds the decompressed size of one frame, for the
	// writer (which refuses bigger frames) and the reader (which refuses files
	// that claim bigger frames). It bounds the memory a hostile file can make
	// a reader allocate per frame.
	DefaultMaxFrameSize = 16 << 20

	// MaxFrames is the specification's limit on the number of frames.
	MaxFrames = 0x8000000

	footerSize          = 9 // number of frames u32, descriptor u8, magic u32
	skippableHeaderSize = 8 // magic u32, size u32
	entrySize           = 8 // compressed size u32, decompressed size u32
	checksumFlag        = 0x80
	reservedBits        = 0x7c
)

// ErrCorrupt is wrapped by every error that reports a malformed or damaged
// file: a bad seek table, a frame that does not decode, or sizes that do not
// add up.
var ErrCorrupt = errors.New("corrupt seekable zstd file")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// tableEntry is one row of the seek table.
type tableEntry struct {
	compressed, decompressed uint32
}

// appendSeekTable appends the whole seek-table skippable frame.
func appendSeekTable(dst []byte, entries []tableEntry) []byte {
	payload := len(entries)*entrySize + footerSize
	dst = binary.LittleEndian.AppendUint32(dst, SeekTableMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(payload))
	for _, e := range entries {
		dst = binary.LittleEndian.AppendUint32(dst, e.compressed)
		dst = binary.LittleEndian.AppendUint32(dst, e.decompressed)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(entries)))
	dst = append(dst, 0) // descriptor: no checksums
	return binary.LittleEndian.AppendUint32(dst, FooterMagic)
}

// parseFooter checks the 9-byte footer and returns the number of frames and
// the size of one seek-table entry.
func parseFooter(footer []byte) (frames int64, esize int64, err error) {
	if binary.LittleEndian.Uint32(footer[5:]) != FooterMagic {
		return 0, 0, corruptf("no seek table at the end of the file (footer %#08x): not a seekable zstd file, or truncated, or with data appended", binary.LittleEndian.Uint32(footer[5:]))
	}
	desc := footer[4]
	if desc&reservedBits != 0 {
		return 0, 0, corruptf("seek table descriptor %#02x has reserved bits set", desc)
	}
	esize = entrySize
	if desc&checksumFlag != 0 {
		esize += 4
	}
	frames = int64(binary.LittleEndian.Uint32(footer[:4]))
	if frames > MaxFrames {
		return 0, 0, corruptf("seek table claims %d frames, more than the limit %d", frames, MaxFrames)
	}
	return frames, esize, nil
}

// seekTableSize returns the size of the whole seek-table frame.
func seekTableSize(frames, esize int64) int64 {
	return skippableHeaderSize + frames*esize + footerSize
}

// parseSeekTable checks the whole seek-table frame (header, entries and
// footer) and returns its entries.
func parseSeekTable(b []byte, frames, esize int64) ([]tableEntry, error) {
	if m := binary.LittleEndian.Uint32(b); m != SeekTableMagic {
		return nil, corruptf("seek table frame has magic %#08x, want %#08x", m, SeekTableMagic)
	}
	if n := int64(binary.LittleEndian.Uint32(b[4:])); n != frames*esize+footerSize {
		return nil, corruptf("seek table frame size %d does not match its %d entries", n, frames)
	}
	entries := make([]tableEntry, frames)
	p := b[skippableHeaderSize:]
	for i := range entries {
		entries[i] = tableEntry{
			compressed:   binary.LittleEndian.Uint32(p),
			decompressed: binary.LittleEndian.Uint32(p[4:]),
		}
		p = p[esize:]
	}
	return entries, nil
}
