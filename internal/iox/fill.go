// Package iox holds small I/O helpers that several packages need.
package iox

import "io"

// Fill reads into p until it is full or r fails or ends, and returns how
// many bytes it read. Unlike io.ReadFull it passes r's own errors on as
// they are (io.EOF included): a body cut short reports
// io.ErrUnexpectedEOF, which must not look like its end, and a caller
// reading chunk by chunk tells the last, short chunk (n > 0, io.EOF) from
// a full one (n == len(p), nil).
func Fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
