package build

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// pulledImage is one image of the stack, in the cache.
type pulledImage struct {
	ref manifest.ImageRef
	img *images.Image
}

// checkLock, for a locked build, checks that the lock covers the manifest
// and that upstream still serves the images the lock pinned. It lists every
// drifted image at once. URL files drift when their download differs from
// the lock (fetchFiles); a file the cache holds is not downloaded again.
func (b *builder) checkLock(ctx context.Context) error {
	if !b.o.Locked {
		return nil
	}
	l := b.o.Lock
	if err := l.Check(b.o.Stack); err != nil {
		return err
	}
	refs := b.o.Stack.Images()
	upstream, err := b.resolveAll(ctx, refs)
	if err != nil {
		return err
	}
	var drifts []lock.Drift
	for i, r := range refs {
		locked := l.Images[r.Ref]
		b.pins[r.Ref] = locked
		if upstream[i] != locked {
			drifts = append(drifts, lock.Drift{Kind: lock.KindImage, Name: r.Ref, Locked: locked, Upstream: upstream[i]})
		}
	}
	if len(drifts) > 0 {
		sort.Slice(drifts, func(i, j int) bool { return drifts[i].Name < drifts[j].Name })
		return &lock.DriftError{Drifts: drifts}
	}
	return nil
}

// resolveAll resolves every image's top-level digest upstream, in parallel.
// An image that is gone upstream resolves to "" (a drift), not an error.
func (b *builder) resolveAll(ctx context.Context, refs []manifest.ImageRef) ([]string, error) {
	out := make([]string, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, b.concurrency())
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := b.puller.Resolve(ctx, r.Canonical)
			switch {
			case errors.Is(err, images.ErrNotFound):
			case err != nil:
				errs[i] = fmt.Errorf("image %s (%s): %w", r.Ref, r.Source, err)
			default:
				out[i] = d.Digest
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (b *builder) concurrency() int {
	if b.o.Concurrency > 0 {
		return b.o.Concurrency
	}
	return 8
}

// pullImages pulls every image of the stack into the cache, several at a
// time, pinned to the lock's digests for a locked build. As each image
// lands, in manifest order, its blobs are streamed into the bundle, so the
// writer works while later images are still downloading. Every failed image
// is reported, not only the first.
func (b *builder) pullImages(ctx context.Context) error {
	if b.stream {
		return b.pullStreaming(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refs := b.o.Stack.Images()
	pulls := b.startPulls(ctx, refs)
	var errs []error
	for i, r := range refs {
		p := pulls[i]
		select {
		case <-p.done:
		case <-ctx.Done():
			return errors.Join(append(errs, ctx.Err())...)
		}
		if p.err != nil {
			if errors.Is(p.err, images.ErrNotFound) {
				p.err = b.missingImage(r)
			}
			errs = append(errs, p.err)
			continue
		}
		p.img.Ref = r.Ref
		b.images = append(b.images, &pulledImage{ref: r, img: p.img})
		if len(errs) == 0 {
			if err := b.streamImage(p.img); err != nil {
				cancel()
				return err
			}
		}
	}
	return errors.Join(errs...)
}

// pull is one image being pulled; done closes when img or err is set.
type pull struct {
	done chan struct{}
	img  *images.Image
	err  error
}

// startPulls starts pulling refs in order, at most imageJobs at a time.
func (b *builder) startPulls(ctx context.Context, refs []manifest.ImageRef) []*pull {
	pulls := make([]*pull, len(refs))
	for i := range pulls {
		pulls[i] = &pull{done: make(chan struct{})}
	}
	sem := make(chan struct{}, b.imageJobs())
	go func() {
		for i, r := range refs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for _, p := range pulls[i:] {
					p.err = ctx.Err()
					close(p.done)
				}
				return
			}
			go func() {
				defer func() { <-sem }()
				p := pulls[i]
				p.img, p.err = b.puller.Pull(ctx, r.Canonical, b.pins[r.Ref])
				close(p.done)
			}()
		}
	}()
	return pulls
}

// imageJobs is how many images are pulled at once.
func (b *builder) imageJobs() int {
	if b.o.Concurrency > 0 {
		return b.o.Concurrency
	}
	return 4
}

// pullProgress turns the puller's per-image snapshots into progress items.
type pullProgress struct {
	r       *progress.Reporter
	mu      sync.Mutex
	seen    map[string]int64 // image → bytes reported so far
	fetched int              // blobs downloaded, over all images
	cached  int              // blobs found in the cache
	skipped int              // layers left to a delta's base, not downloaded
}

// addStreamed counts a layer streamed into the bundle as fetched.
func (p *pullProgress) addStreamed() {
	p.mu.Lock()
	p.fetched++
	p.mu.Unlock()
}

// addCached counts a layer shared with an image before, streamed once, as
// cached for this image, as a blob another pull fetched is.
func (p *pullProgress) addCached() {
	p.mu.Lock()
	p.cached++
	p.mu.Unlock()
}

func newPullProgress(r *progress.Reporter) *pullProgress {
	return &pullProgress{r: r, seen: map[string]int64{}}
}

// Update is called concurrently by the puller.
func (p *pullProgress) Update(s images.ImageProgress) {
	p.mu.Lock()
	prev, started := p.seen[s.Image]
	if !started {
		p.r.Start(s.Image, s.Image, s.BytesTotal)
	}
	p.seen[s.Image] = s.BytesDone
	p.mu.Unlock()
	if d := s.BytesDone - prev; d > 0 {
		p.r.Add(s.Image, d)
	}
	if s.Done {
		p.mu.Lock()
		p.fetched += s.BlobsFetched
		p.cached += s.BlobsCached
		p.skipped += s.BlobsSkipped
		p.mu.Unlock()
		note := fmt.Sprintf("%d blobs fetched, %d cached", s.BlobsFetched, s.BlobsCached)
		if s.BlobsDeferred > 0 {
			note += fmt.Sprintf(", %d streamed into the bundle", s.BlobsDeferred)
		}
		if s.BlobsSkipped > 0 {
			note += fmt.Sprintf(", %d in the base", s.BlobsSkipped)
		}
		p.r.Done(s.Image, s.Err, note)
	}
}
