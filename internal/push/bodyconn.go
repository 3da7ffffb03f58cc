package push

import (
	"context"
	"errors"
	"io"
	"net"
)

// Upload bodies written whole. net/http copies a request body of known
// length to the connection through an io.LimitedReader, which hides the
// body's WriteTo: every blob then crosses a 32 KiB copy buffer, one
// memmove and one write(2) per 32 KiB. The bundle's reader verifies each
// chunk (4 MiB) into a buffer before handing any of it out and can write
// it from there (bundle's chunkReader.WriteTo), so on a plain-HTTP
// connection a blob goes out in one write per verified chunk. Over TLS the
// transport writes through crypto/tls, which calls Write, and this does
// not apply.

// writeToConn is a plain connection whose ReadFrom lets a body that can
// write itself do so, within the length the transport asked for.
type writeToConn struct{ net.Conn }

// dialWriteTo wraps dial's connections in writeToConn.
func dialWriteTo(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeToConn{c}, nil
	}
}

// ReadFrom copies r to the connection. For an io.LimitedReader around an
// io.WriterTo (a request body of known length), the body writes itself,
// cut at the limit as the LimitedReader would cut it: what lies past it
// stays unread, for net/http to find and report.
func (c writeToConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if wt, ok := lr.R.(io.WriterTo); ok {
			lw := &limitWriter{w: c.Conn, n: lr.N}
			n, err := wt.WriteTo(lw)
			lr.N -= n
			if errors.Is(err, errLimit) {
				err = nil
			}
			return n, err
		}
	}
	return io.Copy(c.Conn, r) // *net.TCPConn's own ReadFrom (sendfile, splice) where it applies
}

// errLimit stops a WriteTo at the LimitedReader's limit.
var errLimit = errors.New("push: request body longer than its length")

// limitWriter passes at most n bytes to w.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	cut := false
	if int64(len(p)) > l.n {
		p, cut = p[:l.n], true
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	if err == nil && cut {
		err = errLimit
	}
	return n, err
}
