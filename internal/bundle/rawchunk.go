package bundle

import (
	"os"

	"github.com/factory-appliance/appliance/internal/seekable"
)

// RawChunk is where one chunk of an artifact's data lies in a bundle file,
// for a chunk that is exactly one frame stored as raw zstd blocks (as
// layers are: zstd cannot shrink them). A server that holds the file
// unchanged can send those ranges of the file again once the chunk has
// been read and verified (VerifyRawChunk), without reading it into memory.
type RawChunk struct {
	File    *os.File          // the bundle file (its base's, for an artifact of a delta's base)
	Frame   int               // the frame that holds the chunk and nothing else
	Frames  int               // the number of frames in File
	Extents []seekable.Extent // the file ranges of the chunk's data, in order
}

// LocateRawChunk returns where chunk k of a's data would lie if its frame
// is stored raw. It reads nothing and checks nothing of the frame's
// content: only VerifyRawChunk does. ok is false for chunks it cannot
// place: an artifact not as listed, a bundle of several parts or not
// opened from a file, a frame that holds more than the chunk (its header
// for chunk 0, its tar padding for the last) or whose sizes are not those
// of a raw frame.
func (r *Reader) LocateRawChunk(a Artifact, k int64) (RawChunk, bool) {
	if o, ok := r.owner(a.Path); ok && o != r {
		return o.LocateRawChunk(a, k)
	}
	f, ok := r.closer.(*os.File)
	if !ok || len(r.parts) != 1 || r.known(a) != nil || k < 0 || k*ChunkSize >= max(a.Size, 1) {
		return RawChunk{}, false
	}
	c := chunkReader{r: r, a: a}
	from, lo, n, hi, err := c.extent(k, true)
	if err != nil {
		return RawChunk{}, false
	}
	i, ok := r.sr.FrameAt(from)
	if !ok {
		return RawChunk{}, false
	}
	fr := r.sr.Frame(i)
	if fr.UncompressedOffset != from || fr.UncompressedOffset+fr.UncompressedSize != hi {
		return RawChunk{}, false
	}
	ext, ok := r.sr.RawExtents(i, lo-from, n)
	if !ok {
		return RawChunk{}, false
	}
	return RawChunk{File: f, Frame: i, Frames: r.sr.NumFrames(), Extents: ext}, true
}

// VerifyRawChunk reads the frame of chunk k of a (see LocateRawChunk) into
// *buf, grown as needed, and checks it as a read through OpenRange would:
// the frame's zstd header and block headers, the entry's tar header, and
// the chunk's digest in bundle.json. When it returns no error, the
// returned extents held, at the time of the read, exactly the bytes that
// matched the digest. ok is false, with nothing checked, when the chunk
// cannot be placed or its frame turns out not to be raw: read it with
// OpenRange. A mismatch is an *ArtifactError, as from Open.
func (r *Reader) VerifyRawChunk(a Artifact, k int64, buf *[]byte) (RawChunk, bool, error) {
	if o, ok := r.owner(a.Path); ok && o != r {
		return o.VerifyRawChunk(a, k, buf)
	}
	rc, ok := r.LocateRawChunk(a, k)
	if !ok {
		return RawChunk{}, false, nil
	}
	c := chunkReader{r: r, a: a}
	from, lo, n, _, err := c.extent(k, true)
	if err != nil {
		return RawChunk{}, false, nil
	}
	if k > 0 {
		if err := r.checkHeaderOf(a); err != nil {
			return RawChunk{}, true, &ArtifactError{Artifact: a, Err: err}
		}
	}
	out, ok, err := r.sr.ReadRaw(rc.Frame, (*buf)[:0])
	if cap(out) > cap(*buf) {
		*buf = out[:0]
	}
	if !ok {
		return RawChunk{}, false, nil
	}
	if err != nil {
		return RawChunk{}, true, &ArtifactError{Artifact: a, Err: err}
	}
	if from < lo {
		if err := checkEntryHeader(out[:lo-from], a.Path, a.Size); err != nil {
			return RawChunk{}, true, &ArtifactError{Artifact: a, Err: err}
		}
		r.headersOK.Store(a.Offset, struct{}{})
	}
	if err := verifyChunk(a, k, out[lo-from:lo-from+n]); err != nil {
		return RawChunk{}, true, &ArtifactError{Artifact: a, Err: err}
	}
	return rc, true, nil
}
