package cas

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// VerifiedReader passes through the bytes of an object and checks them
// against the expected digest and size. At the end of the stream it returns
// io.EOF only when both match; otherwise it returns a *DigestError or a size
// error. Callers must treat any bytes read as untrusted until io.EOF.
type VerifiedReader struct {
	r      io.Reader
	c      io.Closer
	h      hash.Hash
	n      int64
	what   string
	digest string
	size   int64
	err    error
}

// NewVerifiedReader wraps rc. size < 0 means the size is not known.
func NewVerifiedReader(rc io.ReadCloser, what, digest string, size int64) *VerifiedReader {
	return &VerifiedReader{r: rc, c: rc, h: sha256.New(), what: what, digest: digest, size: size}
}

func (v *VerifiedReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		v.err = fmt.Errorf("%s: longer than its recorded size %d", v.what, v.size)
		return n, v.err
	}
	if err == io.EOF {
		got := "sha256:" + hex.EncodeToString(v.h.Sum(nil))
		switch {
		case v.size >= 0 && v.n != v.size:
			v.err = fmt.Errorf("%s: truncated: %d of %d bytes", v.what, v.n, v.size)
		case got != v.digest:
			v.err = &DigestError{What: v.what, Expected: v.digest, Actual: got}
		default:
			v.err = io.EOF
		}
		return n, v.err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// Close closes the underlying reader.
func (v *VerifiedReader) Close() error { return v.c.Close() }
