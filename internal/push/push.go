// Package push loads everything a bundle carries for the site registry into
// it, under the original names: every image (index, platform manifests,
// configs, layers), its cosign signatures (sha256-<hex>.sig tags) and OCI
// referrers, and OCI charts.
//
// # Names
//
// The source registry's host becomes the first path component, which is the
// Harbor project: docker.io/calico/node:v3.26.4 is pushed as
// HOST/docker.io/calico/node:v3.26.4 (project docker.io, repository
// calico/node). containerd on the nodes mirrors docker.io to HOST with
// that prefix, so no chart or manifest is rewritten.
//
// # What is guaranteed
//
//   - Manifests are pushed byte for byte as the bundle holds them, so every
//     digest, and every signature over one, stays valid.
//   - Every byte sent is read from the bundle and verified against its digest
//     while it streams; a blob whose bytes do not match is never completed.
//     No blob is held in memory whole.
//   - Idempotent and resumable: an image whose manifest is already in its
//     repository, under its tag, is not touched; otherwise each manifest is
//     looked up by digest (HEAD) and each blob too before it is sent, so a
//     rerun after an interruption sends only what had not landed and
//     completes half-pushed images.
//   - A blob is uploaded once per push: when another repository needs it,
//     it is mounted from the repository that has it (go-containerregistry's
//     own deduplication stops at a repository).
//   - Concurrency is bounded across images and, separately, across blob
//     uploads (WithConcurrency).
//   - For a Harbor target, the projects the images need are created first.
//
// go-containerregistry's remote.Pusher does the registry protocol (auth,
// the upload session, mounts, retries); this package decides what to send,
// in which order, and from where. It drives the walk itself rather than
// handing a whole image to remote.Write, because a bundle keeps only the
// selected platform of an index (see pushIndex) and because mounts across
// repositories need the tracker in blobs.go.
package push

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/progress"
)

// ErrFailed is wrapped by Push's error when at least one image failed; the
// Report then names each one.
var ErrFailed = errors.New("push failed")

// Push loads every image of the bundle r into the registry at host
// (HOST[:PORT]) and reports what it did. It returns a Report even on
// failure, with every failed image listed in Report.Errors; the error then
// wraps ErrFailed. Images the bundle cannot name in the registry stop the
// push before anything is sent.
func Push(ctx context.Context, r *bundle.Reader, host string, opts ...Option) (*Report, error) {
	start := time.Now()
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if err := checkTarget(host, o.plainHTTP); err != nil {
		return nil, err
	}
	if o.plainHTTP {
		o.log.Warn("PLAIN HTTP to the registry: no TLS; use only for loopback tests", "registry", host)
	}
	units, err := listUnits(ctx, r, host, o.plainHTTP)
	if err != nil {
		return nil, err
	}
	p, err := newPusher(r, host, o, len(units))
	if err != nil {
		return nil, err
	}
	defer p.prog.Close()
	if err := p.setupHarbor(ctx, units); err != nil {
		return p.finish(start), err
	}
	p.pushAll(ctx, units)
	rep := p.finish(start)
	if err := p.result(rep); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// result sums up the failures of a push, with the way out.
func (p *pusher) result(rep *Report) error {
	if len(rep.Errors) == 0 {
		return nil
	}
	first := strings.TrimSuffix(rep.Errors[0], ": "+ErrDamaged.Error())
	if p.damaged.Load() {
		return fmt.Errorf("%w: %d of %d images failed; the first: %s; %w",
			ErrFailed, rep.ImagesFailed, rep.Images, first, ErrDamaged)
	}
	return fmt.Errorf("%w: %d of %d images failed; the first: %s; run the push again to resume",
		ErrFailed, rep.ImagesFailed, rep.Images, first)
}

// pusher is one push in progress.
type pusher struct {
	r       *bundle.Reader
	host    string
	o       *options
	c       *counters
	base    http.RoundTripper
	rp      *remote.Pusher
	head    *remote.Puller
	blobs   *blobTracker
	blobSem chan struct{}
	prog    *progress.Reporter

	damaged atomic.Bool // some content failed its digest check

	mu  sync.Mutex
	rep Report
}

func newPusher(r *bundle.Reader, host string, o *options, n int) (*pusher, error) {
	p := &pusher{
		r: r, host: host, o: o, c: &counters{}, base: o.baseTransport(),
		blobs: newBlobTracker(), blobSem: make(chan struct{}, o.blobJobs),
		rep: Report{Target: host, Images: n, ProjectsCreated: []string{}, Warnings: []string{}, Errors: []string{}},
	}
	ropts := []remote.Option{
		remote.WithTransport(&countingTransport{next: p.base, c: p.c}),
		remote.WithAuth(o.auth),
		remote.WithJobs(o.blobJobs),
		remote.WithUserAgent("appliance-deploy-push"),
	}
	var err error
	if p.rp, err = remote.NewPusher(ropts...); err != nil {
		return nil, err
	}
	if p.head, err = remote.NewPuller(ropts...); err != nil {
		return nil, err
	}
	p.prog = progress.Discard()
	if o.progressOut != nil {
		p.prog = progress.New(o.progressOut, o.progressMode, n)
	}
	return p, nil
}

// pushAll pushes the images, at most imageJobs at a time: first the images
// themselves, then what refers to them (signatures, referrers), so a
// subject is in place before what points at it.
func (p *pusher) pushAll(ctx context.Context, units []unit) {
	for _, wave := range waves(units) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, p.o.imageJobs)
		for _, u := range wave {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				p.failed(u, ctx.Err())
				continue
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				p.pushUnit(ctx, u)
			}()
		}
		wg.Wait()
	}
}

// pushUnit pushes one image under its name and records the outcome.
func (p *pusher) pushUnit(ctx context.Context, u unit) {
	id := u.ref.String()
	p.prog.Start(id, u.source+" → "+id, 0)
	present, err := p.isComplete(ctx, u)
	if err == nil && !present {
		err = p.pushManifest(ctx, u.ref.Context(), u.desc, u.ref, id)
	}
	p.mu.Lock()
	switch {
	case err != nil:
		p.mu.Unlock()
		p.failed(u, err)
		return
	case present:
		p.rep.ImagesPresent++
	default:
		p.rep.ImagesPushed++
	}
	p.mu.Unlock()
	note := "pushed"
	if present {
		note = "already present"
	}
	p.prog.Done(id, nil, note)
}

func (p *pusher) failed(u unit, err error) {
	if errors.Is(err, ErrDamaged) {
		p.damaged.Store(true)
	}
	id := u.ref.String()
	err = fmt.Errorf("image %s (as %s): %w", u.source, id, withTLSHint(err))
	p.prog.Done(id, err, "")
	p.mu.Lock()
	p.rep.ImagesFailed++
	p.rep.Errors = append(p.rep.Errors, err.Error())
	p.mu.Unlock()
}

func (p *pusher) warn(msg string) {
	p.o.log.Warn(msg)
	p.prog.Logf("warning: %s", msg)
	p.mu.Lock()
	p.rep.Warnings = append(p.rep.Warnings, msg)
	p.mu.Unlock()
}

// isComplete reports whether the image is already in place: its manifest in
// the repository by digest and, for a tag, the tag pointing at it. A
// manifest the registry holds has all it references (registries check that
// when it is put), so nothing below it needs looking at.
func (p *pusher) isComplete(ctx context.Context, u unit) (bool, error) {
	ok, err := p.exists(ctx, u.ref.Context().Digest(u.desc.Digest.String()))
	if err != nil {
		return false, err
	}
	tag, isTag := u.ref.(name.Tag)
	if !isTag || (!ok && !u.desc.MediaType.IsIndex()) {
		return ok, nil
	}
	d, err := p.head.Head(ctx, tag)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ok && d.Digest == u.desc.Digest {
		return true, nil
	}
	return p.isPlatformInstead(tag, u.desc, d.Digest)
}

// isPlatformInstead reports whether tag holds, in place of the index the
// bundle has under it, the one platform manifest of that index the bundle
// carries (see pushIndex), and warns again that it does.
func (p *pusher) isPlatformInstead(tag name.Tag, index v1.Descriptor, got v1.Hash) (bool, error) {
	if !index.MediaType.IsIndex() {
		return false, nil
	}
	raw, err := readManifest(p.r, index.Digest)
	if err != nil {
		return false, err
	}
	pm, err := parseManifest(raw, index.MediaType)
	if err != nil {
		return false, fmt.Errorf("manifest %s: %w", index.Digest, err)
	}
	carried := p.carried(pm.children)
	if len(carried) != 1 || len(carried) == len(pm.children) || carried[0].Digest != got {
		return false, nil
	}
	p.warnPlatformInstead(tag, index, carried[0], len(pm.children))
	return true, nil
}

// exists reports whether the manifest ref (by digest) is in the registry.
func (p *pusher) exists(ctx context.Context, ref name.Reference) (bool, error) {
	_, err := p.head.Head(ctx, ref)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p.c.manifestsFound.Add(1)
	return true, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// pushManifest pushes the manifest desc and everything below it into repo,
// and puts it under ref (a tag, or its digest).
func (p *pusher) pushManifest(ctx context.Context, repo name.Repository, desc v1.Descriptor, ref name.Reference, id string) error {
	raw, err := readManifest(p.r, desc.Digest)
	if err != nil {
		return err
	}
	pm, err := parseManifest(raw, desc.MediaType)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if pm.isIndex() {
		return p.pushIndex(ctx, repo, desc, ref, raw, pm, id)
	}
	if err := p.pushBlobs(ctx, repo, pm.blobs, id); err != nil {
		return err
	}
	return p.put(ctx, ref, raw, pm.mediaType, desc.Digest)
}

// put writes a manifest's exact bytes under ref.
func (p *pusher) put(ctx context.Context, ref name.Reference, raw []byte, mt types.MediaType, d v1.Hash) error {
	if err := p.rp.Put(ctx, ref, &rawManifest{raw: raw, mt: mt, d: d}); err != nil {
		return fmt.Errorf("put manifest %s as %s: %w", d, ref, explain(err))
	}
	return nil
}

// pushBlobs sends the config and layers of one manifest into repo, in
// parallel; the blob semaphore bounds uploads across the whole push.
func (p *pusher) pushBlobs(ctx context.Context, repo name.Repository, blobs []v1.Descriptor, id string) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, d := range blobs {
		l, err := newLayer(p.r, d, p.progressFunc(id))
		if errors.Is(err, ErrMissingBlob) && isForeign(d.MediaType) {
			continue // non-distributable: neither bundled nor pushed
		}
		if err != nil {
			return fmt.Errorf("%w; the bundle does not carry everything the image needs, rebuild it", err)
		}
		g.Go(func() error { return p.sendBlob(gctx, repo, d.Digest, l) })
	}
	return g.Wait()
}

func (p *pusher) sendBlob(ctx context.Context, repo name.Repository, d v1.Hash, l v1.Layer) error {
	err := p.blobs.send(ctx, d, repo, func(from *name.Repository) error {
		var layer v1.Layer = l
		if from != nil {
			layer = &remote.MountableLayer{Layer: l, Reference: from.Digest(d.String())}
		}
		select {
		case p.blobSem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-p.blobSem }()
		return p.rp.Upload(ctx, repo, layer)
	})
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, explain(err))
	}
	return nil
}

// ErrDamaged is wrapped when bundle content failed its digest check while
// it was being pushed: the bundle file is damaged, and rerunning the push
// will not help.
var ErrDamaged = errors.New("the bundle file is damaged; check it with `bundle verify FILE` and get an intact copy")

// withTLSHint adds the way out to an error about a certificate this host
// does not trust.
func withTLSHint(err error) error {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &ua):
		return fmt.Errorf("%w; give the CA that signed the registry's certificate with --ca-file", err)
	case errors.As(err, &hn):
		return fmt.Errorf("%w; name the registry in --to as its certificate does", err)
	}
	return err
}

// explain drops the upload URL (session state, noise) from a failed
// request, and says so when the bundle's own content was at fault.
func explain(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	if errors.Is(err, bundle.ErrCorrupt) || errors.Is(err, bundle.ErrDigest) {
		return fmt.Errorf("%w: %w", err, ErrDamaged)
	}
	return err
}

func (p *pusher) progressFunc(id string) func(int64) {
	return func(n int64) { p.prog.Add(id, n) }
}

// finish fills the report from the counters.
func (p *pusher) finish(start time.Time) *Report {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := p.rep
	rep.Manifests = p.c.manifestsPut.Load()
	rep.ManifestsPresent = p.c.manifestsFound.Load()
	rep.BlobsUploaded = p.c.blobsUploaded.Load()
	rep.BytesUploaded = p.c.bytesUploaded.Load()
	rep.BlobsSkipped = p.c.blobsSkipped.Load()
	rep.BlobsMounted = p.c.blobsMounted.Load()
	rep.DurationSeconds = time.Since(start).Seconds()
	return &rep
}
