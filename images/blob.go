package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"
)

// fetchBlobs makes sure the image's config and layers are in the cache.
// Blobs already cached are not requested.
func (p *Puller) fetchBlobs(ctx context.Context, t target, img *Image, tr *tracker) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, b := range append(append([]Blob{img.Config}, img.Layers...), img.Others...) {
		if p.opts.skipLayer != nil && isLayer(b.MediaType) && p.opts.skipLayer(b.Digest) {
			tr.skippedBlob(b.Size)
			continue
		}
		if p.opts.deferLayer != nil && isLayer(b.MediaType) && p.opts.deferLayer(b.Digest) {
			if err := checkDigest(b.Digest); err != nil {
				return fmt.Errorf("image %s: blob %s: %w", t.name(), b.Digest, err)
			}
			if _, ok := p.cache.Has(b.Digest); !ok {
				tr.deferredBlob(b.Size)
				continue
			}
		}
		g.Go(func() error { return p.ensureBlob(ctx, t, b, tr) })
	}
	return g.Wait()
}

// isLayer reports whether a blob's media type is an image layer's.
func isLayer(mediaType string) bool {
	return strings.HasPrefix(mediaType, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mediaType, "application/vnd.docker.image.rootfs.")
}

// ensureBlob stores blob b of image t in the cache unless it is there. A
// digest being downloaded for another image (or another layer slot) at the
// same time is downloaded once: later callers wait for the first one.
func (p *Puller) ensureBlob(ctx context.Context, t target, b Blob, tr *tracker) error {
	what := fmt.Sprintf("image %s: blob %s", t.name(), b.Digest)
	if err := checkDigest(b.Digest); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for {
		if size, ok := p.cache.Has(b.Digest); ok {
			if size != b.Size {
				return fmt.Errorf("%s: the manifest says %d bytes, the content is %d bytes", what, b.Size, size)
			}
			tr.cachedBlob(b.Size)
			return nil
		}
		// Do, not DoChan: the leader downloads in its own goroutine, so a
		// pull never returns while a download it started still runs.
		leader := false
		_, err, _ := p.flight.Do(b.Digest, func() (any, error) {
			leader = true
			return nil, p.downloadBlob(ctx, t, b, what, tr)
		})
		switch {
		case err == nil && leader:
			tr.fetchedBlob()
			return nil
		case err == nil:
			continue // the other download stored it; count it as cached
		case !leader && errors.Is(err, context.Canceled) && ctx.Err() == nil:
			continue // the leader was cancelled, not us: try ourselves
		}
		return err
	}
}

// downloadBlob streams the blob into the cache, retrying transient
// failures from the start. Nothing is stored unless the bytes hash to the
// digest and have the size.
func (p *Puller) downloadBlob(ctx context.Context, t target, b Blob, what string, tr *tracker) error {
	select {
	case p.blobSlots <- struct{}{}:
		defer func() { <-p.blobSlots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if _, ok := p.cache.Has(b.Digest); ok {
		return nil
	}
	return p.retry(ctx, what, func() error {
		return p.downloadOnce(ctx, t, b, what, tr)
	})
}

func (p *Puller) downloadOnce(ctx context.Context, t target, b Blob, what string, tr *tracker) error {
	resp, err := p.request(ctx, t, http.MethodGet, "blobs", b.Digest, "")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp, t, what); err != nil {
		return err
	}
	w, err := p.cache.Writer(what, b.Digest, b.Size)
	if err != nil {
		return err
	}
	cr := &countingReader{r: resp.Body, t: tr}
	if _, err := io.Copy(w, cr); err != nil {
		w.Abort()
		tr.bytes(-cr.n)
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := w.Commit(); err != nil {
		tr.bytes(-cr.n)
		return err
	}
	return nil
}
