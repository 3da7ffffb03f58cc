package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/cas"
)

// OpenBlob streams blob b of img (pulled by this Puller, typically with
// WithDeferLayers) from the registry, without storing it in the cache:
// for a caller that writes it once, where it is needed. The reader checks
// the bytes as they pass: it returns io.EOF only after exactly b.Size
// bytes that hash to b.Digest, and a *cas.DigestError (or a size error)
// instead when they do not, so a caller must not trust what it read before
// io.EOF. A transient failure part-way (a reset connection, a truncated
// body, a 5xx) is retried as Pull retries: the download resumes where it
// stopped, with a Range request, or, when the registry ignores the range,
// from the start with the bytes already returned skipped, so every byte is
// returned once.
func (p *Puller) OpenBlob(ctx context.Context, img *Image, b Blob) (*BlobReader, error) {
	t, err := p.opts.parse(img.Name, "")
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("image %s: blob %s", t.name(), b.Digest)
	if err := checkDigest(b.Digest); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if b.Size < 0 {
		return nil, fmt.Errorf("%s: negative size %d", what, b.Size)
	}
	return &BlobReader{p: p, ctx: ctx, t: t, b: b, what: what, h: sha256.New(), wait: p.opts.backoff}, nil
}

// BlobReader is a blob being streamed from its registry (see OpenBlob). It
// is not safe for concurrent use.
type BlobReader struct {
	p     *Puller
	ctx   context.Context
	t     target
	b     Blob
	what  string
	body  io.ReadCloser
	h     hash.Hash
	n     int64 // bytes returned so far
	tries int   // failed tries so far
	wait  time.Duration
	err   error // sticky: io.EOF once verified, else the failure
}

// Read reads the next bytes of the blob.
func (r *BlobReader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.n == r.b.Size {
			r.err = r.verify()
			return 0, r.err
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				r.retryOrFail(err)
				continue
			}
		}
		if rest := r.b.Size - r.n; int64(len(p)) > rest {
			p = p[:rest]
		}
		k, err := r.body.Read(p)
		r.h.Write(p[:k])
		r.n += int64(k)
		if err == io.EOF && r.n < r.b.Size {
			err = io.ErrUnexpectedEOF // cut short: resume
		}
		if err != nil && err != io.EOF {
			r.closeBody()
			r.retryOrFail(fmt.Errorf("%s: after %d of %d bytes: %w", r.what, r.n, r.b.Size, err))
		}
		if k > 0 {
			return k, nil
		}
	}
}

// verify checks the whole blob once all of its bytes were read, and that
// the registry has no more of them.
func (r *BlobReader) verify() error {
	if r.body != nil {
		var one [1]byte
		k, _ := io.ReadFull(r.body, one[:])
		r.closeBody()
		if k > 0 {
			return fmt.Errorf("%s: the registry sent more than the %d bytes the manifest gives", r.what, r.b.Size)
		}
	}
	got := "sha256:" + hex.EncodeToString(r.h.Sum(nil))
	if got != r.b.Digest {
		return &cas.DigestError{What: r.what, Expected: r.b.Digest, Actual: got}
	}
	return io.EOF
}

// retryOrFail waits before the next try when err is transient and tries
// are left, else makes err the reader's error.
func (r *BlobReader) retryOrFail(err error) {
	r.tries++
	if r.tries >= r.p.opts.attempts || !transient(r.ctx, err) {
		if r.ctx.Err() != nil && !errors.Is(err, r.ctx.Err()) {
			err = errors.Join(err, r.ctx.Err())
		}
		r.err = err
		return
	}
	r.p.opts.logger.Warn("retrying after a transient error", "what", r.what, "attempt", r.tries, "at", r.n, "error", err)
	select {
	case <-r.ctx.Done():
		r.err = errors.Join(err, r.ctx.Err())
	case <-time.After(r.wait/2 + rand.N(r.wait/2+1)):
	}
	r.wait = min(r.wait*2, maxBackoff)
}

// open requests the blob from byte r.n on.
func (r *BlobReader) open() error {
	client, err := r.p.clients.get(r.ctx, r.t.fetch)
	if err != nil {
		return fmt.Errorf("%s: %w", r.what, err)
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.p.clients.url(r.t.fetch, "blobs", r.b.Digest), nil)
	if err != nil {
		return err
	}
	if r.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", r.n))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", r.what, err)
	}
	if r.n > 0 && resp.StatusCode == http.StatusPartialContent {
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != r.n {
			resp.Body.Close()
			return fmt.Errorf("%s: asked for the bytes from %d on, the registry sent Content-Range %q", r.what, r.n, resp.Header.Get("Content-Range"))
		}
		r.body = resp.Body
		return nil
	}
	if err := checkStatus(resp, r.t, r.what); err != nil {
		resp.Body.Close()
		return err
	}
	if r.n > 0 { // the registry ignored the range: skip what was returned
		if _, err := io.CopyN(io.Discard, resp.Body, r.n); err != nil {
			resp.Body.Close()
			return fmt.Errorf("%s: skipping the %d bytes read before: %w", r.what, r.n, err)
		}
	}
	r.body = resp.Body
	return nil
}

// rangeStart reads the first byte of "bytes START-END/TOTAL".
func rangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (r *BlobReader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// Close ends the download.
func (r *BlobReader) Close() error {
	r.closeBody()
	if r.err == nil {
		r.err = errors.New("images: read from a closed blob reader")
	}
	return nil
}
