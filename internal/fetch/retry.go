package fetch

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Defaults of the policy, and the longest wait between two tries.
const (
	DefaultAttempts = 5
	DefaultBackoff  = 500 * time.Millisecond
	MaxBackoff      = 15 * time.Second
)

// Default is the retry policy of every fetch that does not set its own.
var Default = Retry{Attempts: DefaultAttempts, Backoff: DefaultBackoff}

// Retry runs a fetch again while it fails transiently (Transient), with
// exponential backoff and jitter between tries.
type Retry struct {
	Attempts int           // tries in all; 0 means DefaultAttempts
	Backoff  time.Duration // the first wait, doubled after each try up to MaxBackoff
	// Transient decides what is tried again; nil means Transient. Callers
	// with errors of their own (a registry client's) map them onto it.
	Transient func(ctx context.Context, err error) bool
	// OnRetry is told of each failure that will be tried again; nil: nothing.
	OnRetry func(attempt int, err error)
}

// Do runs fn until it succeeds, fails permanently, or the attempts are
// used up, and returns its last error (unwrapped from Permanent). When ctx
// ends during a wait, the error also wraps ctx.Err(). fn must start over
// on each call.
func (r Retry) Do(ctx context.Context, fn func() error) error {
	attempts, wait, transient := r.Attempts, r.Backoff, r.Transient
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if transient == nil {
		transient = Transient
	}
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= attempts || !transient(ctx, err) {
			return unwrapPermanent(err)
		}
		if r.OnRetry != nil {
			r.OnRetry(attempt, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(unwrapPermanent(err), ctx.Err())
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(wait*2, MaxBackoff)
	}
}

// Transient reports whether err may go away on another try: an HTTP 408,
// 429 or 5xx answer (*StatusError), a connection reset or broken pipe, a
// truncated body, or a timeout. Never the caller's own cancellation, an
// error marked Permanent, another status (401, 403, 404), a refused
// connection, a refused plain-HTTP host or a digest mismatch.
func Transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.As(err, new(permanentError)) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return RetryableStatus(se.Code)
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}

// RetryableStatus reports whether an HTTP status may change on another
// try: 408, 429 and 5xx other than 501 and 505.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// permanentError marks an error that trying again cannot fix.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// Permanent marks err as not worth another try; Retry.Do returns err itself.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

func unwrapPermanent(err error) error {
	if p, ok := err.(permanentError); ok {
		return p.error
	}
	return err
}
