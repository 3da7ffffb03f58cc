// Package lockedio holds the two writers safe for concurrent writes that
// several packages need: a lock around any writer, and a buffer to read
// back (a log sink in tests).
package lockedio

import (
	"bytes"
	"io"
	"sync"
)

// Writer returns w behind a mutex, for a writer that several writers share
// (a logger and a progress reporter each lock only themselves) when w is
// not safe for concurrent writes, as a bytes.Buffer is not. An *os.File
// needs no lock.
func Writer(w io.Writer) io.Writer { return &writer{w: w} }

type writer struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *writer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Buffer is a bytes.Buffer safe for concurrent writes and reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
