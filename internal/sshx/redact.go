package sshx

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
)

// Mask replaces a secret in redacted text.
const Mask = "***"

// Redactor replaces registered secrets (passwords, tokens) with Mask. Every
// log writer and error message in sshx goes through it. A Redactor is safe for
// concurrent use; secrets added later apply to text written later.
type Redactor struct {
	mu sync.RWMutex
	// secrets is longest first, so a secret containing another is masked
	// whole. It is never changed in place: Add builds a new slice, so a
	// list handed out by list() stays whole and sorted while it is used.
	secrets []string
}

// NewRedactor returns a Redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		r.Add(s)
	}
	return r
}

// Add registers a secret. Empty strings are ignored.
func (r *Redactor) Add(secret string) {
	if secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.secrets, secret) {
		return
	}
	next := make([]string, 0, len(r.secrets)+1)
	next = append(append(next, r.secrets...), secret)
	slices.SortStableFunc(next, func(a, b string) int { return len(b) - len(a) })
	r.secrets = next
}

// list returns the current secrets. The caller must not change the slice;
// it is a snapshot that later Adds do not touch.
func (r *Redactor) list() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.secrets
}

// Redact returns s with every registered secret replaced by Mask. A nil
// Redactor returns s unchanged.
func (r *Redactor) Redact(s string) string {
	for _, sec := range r.list() {
		s = strings.ReplaceAll(s, sec, Mask)
	}
	return s
}

func redactBytes(b []byte, secrets []string) []byte {
	for _, sec := range secrets {
		if bytes.Contains(b, []byte(sec)) {
			b = bytes.ReplaceAll(b, []byte(sec), []byte(Mask))
		}
	}
	return b
}

// Writer returns a writer that redacts everything written before passing it
// to w. A secret split across two Writes is still masked: a tail that could
// be the start of a secret is held back until the next Write or Close. Close
// flushes that tail; it does not close w. The writer is safe for concurrent
// use.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &redactingWriter{r: r, w: w}
}

type redactingWriter struct {
	mu      sync.Mutex
	r       *Redactor
	w       io.Writer
	pending []byte
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	secrets := rw.r.list()
	buf := redactBytes(append(rw.pending, p...), secrets)
	hold := heldTail(buf, secrets)
	out := buf[:len(buf)-hold]
	rw.pending = append([]byte(nil), buf[len(buf)-hold:]...)
	if len(out) > 0 {
		if _, err := rw.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// heldTail is the length of the longest suffix of b that is a proper prefix
// of some secret.
func heldTail(b []byte, secrets []string) int {
	hold := 0
	for _, s := range secrets {
		for k := min(len(s)-1, len(b)); k > hold; k-- {
			if bytes.HasSuffix(b, []byte(s[:k])) {
				hold = k
				break
			}
		}
	}
	return hold
}

func (rw *redactingWriter) Close() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if len(rw.pending) == 0 {
		return nil
	}
	_, err := rw.w.Write(redactBytes(rw.pending, rw.r.list()))
	rw.pending = nil
	return err
}
