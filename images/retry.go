package images

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/factory-appliance/appliance/internal/fetch"
)

// retry runs fn until it succeeds, fails permanently, or the attempts are
// used up, by the fetch policy (exponential backoff with jitter).
func (p *Puller) retry(ctx context.Context, what string, fn func() error) error {
	return fetch.Retry{
		Attempts:  p.opts.attempts,
		Backoff:   p.opts.backoff,
		Transient: transient,
		OnRetry: func(attempt int, err error) {
			p.opts.logger.Warn("retrying after a transient error", "what", what, "attempt", attempt, "error", err)
		},
	}.Do(ctx, fn)
}

// transient is fetch.Transient for the registry client's errors too: a
// *transport.Error is judged by its HTTP status.
func transient(ctx context.Context, err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return ctx.Err() == nil && fetch.RetryableStatus(terr.StatusCode)
	}
	return fetch.Transient(ctx, err)
}
