package iox

import (
	"context"
	"io"
)

// ContextReader returns r, stopping with ctx's error at the first Read
// after ctx is done: a read loop over it (io.Copy) ends when its context
// does.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
