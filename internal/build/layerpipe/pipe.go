// Package layerpipe carries one image layer from its registry to the
// bundle writer without storing it first. A download fills the pipe in
// pieces of pieceSize bytes, at most pipePieces of them waiting for the
// writer, so memory stays bounded whatever the layer's size, and hashes
// the layer in the bundle's chunks on the way (Known), so the writer
// hashes nothing again. The writer reads io.EOF only once the download
// reached a checked end: the opener's reader checks the layer against its
// digest (images.BlobReader). Which layers stream, in what order and how
// many at once, is package build's (stream.go).
package layerpipe

import (
	"context"
	"io"
	"sync"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/iox"
)

const (
	pipePieces = 8       // pieces of one download that may wait for the writer
	pieceSize  = 1 << 20 // bytes read from the network at a time
)

var pieces = sync.Pool{New: func() any { b := make([]byte, pieceSize); return &b }}

// Pipe is one layer on its way from the registry to the writer.
type Pipe struct {
	bufs  chan *[]byte // filled pieces, in order; closed at the end
	err   error        // why the download stopped, set before bufs is closed
	known bundle.Known // set before bufs is closed when err is nil

	cur  *[]byte // the piece being read, and what is left of it
	rest []byte
	end  bool
}

// New returns an empty pipe, for Download to fill.
func New() *Pipe { return &Pipe{bufs: make(chan *[]byte, pipePieces)} }

// Read returns the layer's bytes; io.EOF only once the download was
// checked against its digest.
func (p *Pipe) Read(b []byte) (int, error) {
	for len(p.rest) == 0 {
		p.putCur()
		if p.end {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		buf, ok := <-p.bufs
		if !ok {
			p.end = true
			continue
		}
		p.cur, p.rest = buf, *buf
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// Known is the layer's digest (checked) and chunk digests.
func (p *Pipe) Known() bundle.Known { return p.known }

// Err is why the download stopped (nil when it has not, or reached its
// checked end).
func (p *Pipe) Err() error { return p.err }

func (p *Pipe) putCur() {
	if p.cur != nil {
		*p.cur = (*p.cur)[:cap(*p.cur)]
		pieces.Put(p.cur)
		p.cur, p.rest = nil, nil
	}
}

// Drain gives back every piece of a pipe that will not be written (its
// download was stopped).
func (p *Pipe) Drain() {
	p.putCur()
	for buf := range p.bufs {
		*buf = (*buf)[:cap(*buf)]
		pieces.Put(buf)
	}
}

// Download streams one layer into the pipe, hashing its chunks on the
// way: the bytes open returns, which must check them against digest, size
// bytes long. It returns when the download ended, failed or was cancelled
// with ctx, and the pipe was closed.
func (p *Pipe) Download(ctx context.Context, open func() (io.ReadCloser, error), digest string, size int64) {
	defer close(p.bufs)
	rc, err := open()
	if err != nil {
		p.err = err
		return
	}
	defer rc.Close()
	ch := newChunker(size)
	for {
		buf := pieces.Get().(*[]byte)
		n, err := iox.Fill(rc, *buf)
		*buf = (*buf)[:n]
		if n > 0 {
			ch.write(*buf)
			select {
			case p.bufs <- buf:
			case <-ctx.Done():
				pieces.Put(buf)
				p.err = ctx.Err()
				return
			}
		} else {
			*buf = (*buf)[:cap(*buf)]
			pieces.Put(buf)
		}
		if err == io.EOF {
			p.known = bundle.Known{Digest: digest, Chunks: ch.sums()}
			return
		}
		if err != nil {
			p.err = err
			return
		}
	}
}

// chunker computes the chunk digests bundle.json lists for content of a
// given size (none for content of at most one chunk).
type chunker struct {
	h      interface{ Write([]byte) (int, error) }
	sum    func() string
	reset  func()
	off    int64
	chunks []string
	none   bool
}

func newChunker(size int64) *chunker {
	h := bundle.NewChunkHash()
	return &chunker{h: h, sum: func() string { return bundle.ChunkDigestOf(h) }, reset: h.Reset, none: bundle.NumChunks(size) == 0}
}

func (c *chunker) write(p []byte) {
	if c.none {
		return
	}
	for len(p) > 0 {
		room := bundle.ChunkSize - c.off%bundle.ChunkSize
		k := min(int64(len(p)), room)
		c.h.Write(p[:k])
		p, c.off = p[k:], c.off+k
		if c.off%bundle.ChunkSize == 0 {
			c.chunks = append(c.chunks, c.sum())
			c.reset()
		}
	}
}

func (c *chunker) sums() []string {
	if c.none {
		return nil
	}
	if c.off%bundle.ChunkSize != 0 {
		c.chunks = append(c.chunks, c.sum())
	}
	return c.chunks
}
