package images

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retry runs fn until it succeeds, fails permanently, or the attempts are
// used up, waiting with exponential backoff and jitter between tries.
func (p *Puller) retry(ctx context.Context, what string, fn func() error) error {
	wait := p.opts.backoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= p.opts.attempts || !transient(ctx, err) {
			return err
		}
		p.opts.logger.Warn("retrying after a transient error", "what", what, "attempt", attempt, "error", err)
		jittered := wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(jittered):
		}
		wait = min(wait*2, maxBackoff)
	}
}

// transient reports whether err may go away on a retry: 408, 429 and 5xx
// answers, connection resets, truncated bodies and timeouts. Not the
// caller's own cancellation, and never 401, 403 or 404.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
