package seekable

import (
	"fmt"
	"io"
)

// Stream reads a section of the uncompressed stream sequentially, holding
// one decompressed frame at a time. It is not safe for concurrent use; open
// one Stream per goroutine.
type Stream struct {
	r      *Reader
	off    int64 // next uncompressed offset to return
	end    int64
	buf    *[]byte
	bufOff int64 // uncompressed offset of (*buf)[0]
	err    error
}

// NewStream returns a reader of n uncompressed bytes starting at off. It
// decompresses each frame it needs once, in order, and checks it like
// ReadAt. Close returns its buffer.
func (r *Reader) NewStream(off, n int64) (*Stream, error) {
	if off < 0 || n < 0 || off > r.total || n > r.total-off {
		return nil, fmt.Errorf("seekable: section [%d, +%d) is outside the %d-byte stream", off, n, r.total)
	}
	return &Stream{r: r, off: off, end: off + n, buf: r.getBuf()}, nil
}

// Read implements io.Reader.
func (s *Stream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.off >= s.end {
		return 0, io.EOF
	}
	if s.off < s.bufOff || s.off >= s.bufOff+int64(len(*s.buf)) {
		if err := s.load(); err != nil {
			s.err = err
			return 0, err
		}
	}
	avail := (*s.buf)[s.off-s.bufOff:]
	if rest := s.end - s.off; int64(len(avail)) > rest {
		avail = avail[:rest]
	}
	n := copy(p, avail)
	s.off += int64(n)
	return n, nil
}

// load decompresses the frame holding s.off.
func (s *Stream) load() error {
	i, ok := s.r.FrameAt(s.off)
	if !ok {
		return io.ErrUnexpectedEOF
	}
	out, err := s.r.decodeFrame(i, (*s.buf)[:0])
	if err != nil {
		return err
	}
	*s.buf = out
	s.bufOff = s.r.frames[i].UncompressedOffset
	return nil
}

// Close releases the Stream's buffer. Reads after Close fail.
func (s *Stream) Close() error {
	if s.buf != nil {
		*s.buf = (*s.buf)[:0]
		s.r.bufs.Put(s.buf)
		s.buf = nil
	}
	s.err = errClosedStream
	return nil
}

var errClosedStream = fmt.Errorf("seekable: read from a closed stream")
