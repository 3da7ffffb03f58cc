package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/build/layerpipe"
	"github.com/factory-appliance/appliance/internal/cas"
)

// Streaming. When the cache can keep the bundle itself (see packcache), the
// layers a build has to download are not stored in the cache first: each
// is downloaded while the bundle writer copies it, in the bundle's fixed
// order (see write.go), and so written once. The pulls fetch manifests and
// configs into the cache as before and leave the layers to the build
// (images.WithDeferLayers). A planner walks the images in order, as the
// writer does, and starts each new layer's download ahead of the writer:
// at most streamDepth at once, the one being written included, each
// through a pipe that holds a bounded number of pieces (package
// layerpipe), so memory stays bounded whatever the layers' sizes. Every
// download is checked against its digest as it arrives
// (images.BlobReader) and hashed in chunks for bundle.json on the way, so
// the writer hashes nothing again; a layer whose bytes do not match fails
// the build before the bundle is finished, and nothing of it is kept.

// streamDepth is how many layers download at once, the one written
// included.
const streamDepth = 4

// planned is the next thing the writer does: take in an image, write a
// blob (from its pipe, or from the cache when pipe is nil), or report an
// image that failed.
type planned struct {
	img  *pulledImage
	e    entry
	pipe *layerpipe.Pipe
	err  error
}

// streamer runs the planner and the downloads of one build.
type streamer struct {
	b     *builder
	ctx   context.Context // the downloads; cancelled to stop them
	stop  context.CancelFunc
	slots chan struct{}
	items chan planned
	wg    sync.WaitGroup
}

// pullStreaming is pullImages when layers stream into the bundle.
func (b *builder) pullStreaming(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refs := b.o.Stack.Images()
	b.deferLayers.Store(true)
	defer b.deferLayers.Store(false)
	pulls := b.startPulls(ctx, refs)
	s := &streamer{b: b, slots: make(chan struct{}, streamDepth), items: make(chan planned, 64)}
	s.ctx, s.stop = context.WithCancel(ctx)
	s.wg.Add(1)
	go s.plan(ctx, pulls)
	defer func() {
		s.stop()
		cancel()
		for it := range s.items {
			s.discard(it)
		}
		s.wg.Wait()
	}()
	var errs []error
	for it := range s.items {
		switch {
		case it.err != nil:
			errs = append(errs, it.err)
			s.stop() // the build fails: download nothing more
		case it.img != nil:
			b.images = append(b.images, it.img)
		case len(errs) > 0:
			s.discard(it)
		default:
			if err := b.addPlanned(s, it); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}

// addPlanned writes one planned blob.
func (b *builder) addPlanned(s *streamer, it planned) error {
	if it.pipe == nil {
		if b.out.written[it.e.path] {
			return nil
		}
		return b.add(it.e)
	}
	defer func() { <-s.slots }()
	defer it.pipe.Drain()
	e := it.e
	if b.out.written[e.path] { // the planner sees each path once: never
		s.stop()
		return fmt.Errorf("%s %s (%s): planned twice", e.kind, e.name, e.path)
	}
	got, err := b.out.w.AddDigested(e.path, e.size, it.pipe)
	if err != nil {
		s.stop() // before the drain: no download runs on to its end
		if perr := it.pipe.Err(); perr != nil {
			err = perr
		}
		return streamError(e, err)
	}
	if got.Digest != e.digest {
		return fmt.Errorf("%s %s (%s): streamed as %s, want %s", e.kind, e.name, e.path, got.Digest, e.digest)
	}
	b.pulls.addStreamed()
	b.out.hashedOnce++
	b.out.streamed++
	b.note(e, got)
	return nil
}

// streamError names the image, the blob and the way out of a failed
// download.
func streamError(e entry, err error) error {
	var de *cas.DigestError
	if errors.As(err, &de) {
		return fmt.Errorf("%w; the registry served other bytes than the image's manifest names, so nothing of this build was kept (no bundle, nothing cached): run the build again, and if it fails the same way, the registry's copy of the layer is damaged: push the image %s again", err, e.name)
	}
	return fmt.Errorf("%s %s (%s): %w; nothing of this build was kept: run the build again", e.kind, e.name, e.path, err)
}

// discard drops a planned blob the writer will not write.
func (s *streamer) discard(it planned) {
	if it.pipe != nil {
		s.stop()
		it.pipe.Drain()
		<-s.slots
	}
}

// plan walks the images in the writer's order, as each one's pull ends,
// and sends the writer what to do, starting the download of each blob the
// cache lacks (at most streamDepth at once).
func (s *streamer) plan(ctx context.Context, pulls []*pull) {
	defer s.wg.Done()
	defer close(s.items)
	b := s.b
	refs := b.o.Stack.Images()
	seen := map[string]bool{}
	streamed := map[string]bool{} // paths of the blobs streamed
	for i, r := range refs {
		p := pulls[i]
		select {
		case <-p.done:
		case <-ctx.Done():
			s.items <- planned{err: ctx.Err()}
			return
		}
		if p.err != nil {
			err := p.err
			if errors.Is(err, images.ErrNotFound) {
				err = b.missingImage(r)
			}
			s.items <- planned{err: err}
			continue
		}
		if s.ctx.Err() != nil {
			continue // stopped: only errors are still of interest
		}
		p.img.Ref = r.Ref
		s.items <- planned{img: &pulledImage{ref: r, img: p.img}}
		manifests := map[string]bool{}
		for _, m := range p.img.Manifests {
			manifests[m.Digest] = true
		}
		for _, bl := range p.img.Blobs() {
			e := b.blobEntry(bl, p.img.Ref, manifests[bl.Digest])
			if seen[e.path] {
				if streamed[e.path] {
					// A layer this image shares with an earlier one: the
					// pull left it to the build, which streams it once.
					b.pulls.addCached()
				}
				continue
			}
			seen[e.path] = true
			it := planned{e: e}
			if _, cached := b.cache.Has(bl.Digest); !cached && !b.inBase(e) {
				select {
				case s.slots <- struct{}{}:
				case <-s.ctx.Done():
					continue
				}
				streamed[e.path] = true
				it.pipe = layerpipe.New()
				s.wg.Add(1)
				go s.download(p.img, bl, it.pipe)
			}
			s.items <- it
		}
	}
}

// download streams one blob into its pipe, hashing its chunks on the way.
func (s *streamer) download(img *images.Image, bl images.Blob, p *layerpipe.Pipe) {
	defer s.wg.Done()
	p.Download(s.ctx, func() (io.ReadCloser, error) { return s.b.puller.OpenBlob(s.ctx, img, bl) }, bl.Digest, bl.Size)
}
