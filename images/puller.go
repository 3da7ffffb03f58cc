// Package images pulls container images into the content cache
// (internal/cas) with go-containerregistry's name, authn and transport.
//
// What a Puller guarantees:
//   - Manifests and indexes are stored exactly as the registry served them,
//     never re-serialized, so every digest stays the one upstream published.
//     Their bytes are checked against the pinned digest, the digest in the
//     reference and the registry's Docker-Content-Digest.
//   - Every blob is streamed into the cache, verified against its digest and
//     size, and renamed into place atomically; a failed check stores
//     nothing. No layer is ever held in memory.
//   - A blob already in the cache is never requested again, and a blob
//     shared by images pulled at the same time is downloaded once.
//   - Plain HTTP is used only for loopback registries and registries named
//     with WithInsecureRegistries; anything else is refused with
//     ErrInsecureRegistry.
//
// The manifests and blobs are requested directly over the authenticated
// transport rather than through remote.Image, so that the exact bytes, the
// Docker-Content-Digest check, streaming into the cache and the
// cache-before-network order are under this package's control.
package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/cas"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
)

// Puller fetches images into a content cache. It is safe for concurrent
// use; concurrent pulls share the blob download limit and deduplicate
// blobs by digest.
type Puller struct {
	cache     *cas.Store
	opts      *options
	clients   *clients
	flight    singleflight.Group
	blobSlots chan struct{}
}

// NewPuller returns a Puller storing into cache.
func NewPuller(cache *cas.Store, opts ...Option) (*Puller, error) {
	if cache == nil {
		return nil, errors.New("images: NewPuller needs a content cache")
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Puller{cache: cache, opts: o, clients: newClients(o), blobSlots: make(chan struct{}, o.blobJobs)}, nil
}

// Resolve returns the top-level descriptor (digest, media type, size) ref
// points at, with a HEAD request, falling back to GET when the registry's
// HEAD answer lacks them. A reference by digest whose manifest is cached
// resolves without network.
func (p *Puller) Resolve(ctx context.Context, ref string) (Descriptor, error) {
	t, err := p.opts.parse(ref, "")
	if err != nil {
		return Descriptor{}, err
	}
	what := "image " + t.name()
	if t.digest != "" {
		if m, err := p.cachedManifest(t.digest, what); err == nil {
			return m.desc, nil
		}
	}
	var d Descriptor
	err = p.retry(ctx, what, func() error {
		d, err = p.head(ctx, t, what)
		return err
	})
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInsecureRegistry) || errors.Is(err, ErrDigestMismatch) || ctx.Err() != nil {
		return d, err
	}
	p.opts.logger.Debug("HEAD did not resolve; trying GET", "image", t.name(), "error", err)
	m, err := p.manifest(ctx, t, t.identifier(), t.digest, what)
	return m.desc, err
}

var errIncompleteHead = errors.New("HEAD answer lacks Docker-Content-Digest, a manifest Content-Type or Content-Length")

func (p *Puller) head(ctx context.Context, t target, what string) (Descriptor, error) {
	resp, err := p.request(ctx, t, http.MethodHead, "manifests", t.identifier(), acceptManifests)
	if err != nil {
		return Descriptor{}, fmt.Errorf("%s: %w", what, err)
	}
	resp.Body.Close()
	if err := checkStatus(resp, t, what); err != nil {
		return Descriptor{}, err
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	d := Descriptor{Digest: resp.Header.Get("Docker-Content-Digest"), MediaType: strings.TrimSpace(mt)}
	d.Size, err = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || checkDigest(d.Digest) != nil || !knownManifestType(d.MediaType) {
		return Descriptor{}, errIncompleteHead
	}
	if t.digest != "" && d.Digest != t.digest {
		return Descriptor{}, fmt.Errorf("%s: registry says %s: %w", what, d.Digest, ErrDigestMismatch)
	}
	return d, nil
}

// Pull fetches ref into the cache and describes what it stored. pin, when
// not empty, is the digest the top-level manifest must have; the manifest
// is then requested by that digest and taken from the cache when present.
// From an index only the selected platform's manifest, config and layers
// are fetched (the index itself is stored too).
func (p *Puller) Pull(ctx context.Context, ref, pin string) (*Image, error) {
	t, err := p.opts.parse(ref, pin)
	if err != nil {
		return nil, err
	}
	return p.pull(ctx, t, "")
}

func (p *Puller) pull(ctx context.Context, t target, subject string) (img *Image, err error) {
	tr := newTracker(p.opts.progress, t.name())
	defer func() { tr.finish(err) }()
	what := "image " + t.name()
	top, err := p.manifest(ctx, t, t.identifier(), t.digest, what)
	if err != nil {
		return nil, err
	}
	img = &Image{Ref: t.written, Name: t.name(), Digest: top.desc.Digest, MediaType: top.desc.MediaType,
		Size: top.desc.Size, Manifests: []Blob{top.desc}, Subject: subject}
	body := top
	if isIndex(top.desc.MediaType) {
		if body, err = p.platformManifest(ctx, t, top, img, what); err != nil {
			return nil, err
		}
	}
	if err := fillBlobs(img, body, what); err != nil {
		return nil, err
	}
	if p.opts.allPlats && isIndex(top.desc.MediaType) {
		if err := p.otherPlatforms(ctx, t, top, img, what); err != nil {
			return nil, err
		}
	}
	tr.start(append(append([]Blob{img.Config}, img.Layers...), img.Others...))
	if err := p.fetchBlobs(ctx, t, img, tr); err != nil {
		return nil, err
	}
	p.notePlatform(img)
	return img, nil
}

// platformManifest selects and fetches the platform's manifest of an index.
func (p *Puller) platformManifest(ctx context.Context, t target, idx rawManifest, img *Image, what string) (rawManifest, error) {
	sel, plat, err := p.selectPlatform(idx, what)
	if err != nil {
		return rawManifest{}, err
	}
	m, err := p.manifest(ctx, t, sel.Digest, sel.Digest, what+" ("+plat+")")
	if err != nil {
		return rawManifest{}, err
	}
	if isIndex(m.desc.MediaType) {
		return rawManifest{}, fmt.Errorf("%s: platform %s is a nested index %s, which is not supported", what, plat, sel.Digest)
	}
	if m.desc.Size != sel.Size {
		return rawManifest{}, fmt.Errorf("%s: index says manifest %s has %d bytes, it has %d: %w", what, sel.Digest, sel.Size, m.desc.Size, ErrDigestMismatch)
	}
	img.Manifests = append(img.Manifests, m.desc)
	img.Platform = plat
	return m, nil
}

// otherPlatforms fetches the manifests of every platform of the index but
// the selected one, and lists their configs and layers in img.Others.
func (p *Puller) otherPlatforms(ctx context.Context, t target, idx rawManifest, img *Image, what string) error {
	doc, err := v1.ParseIndexManifest(bytes.NewReader(idx.bytes))
	if err != nil {
		return fmt.Errorf("%s: index %s: %w", what, idx.desc.Digest, err)
	}
	for _, d := range doc.Manifests {
		digest := d.Digest.String()
		if slices.ContainsFunc(img.Manifests, func(b Blob) bool { return b.Digest == digest }) {
			continue
		}
		m, err := p.manifest(ctx, t, digest, digest, what+" ("+digest+")")
		if err != nil {
			return err
		}
		if isIndex(m.desc.MediaType) {
			return fmt.Errorf("%s: index %s lists a nested index %s, which is not supported", what, idx.desc.Digest, digest)
		}
		if m.desc.Size != d.Size {
			return fmt.Errorf("%s: index says manifest %s has %d bytes, it has %d: %w", what, digest, d.Size, m.desc.Size, ErrDigestMismatch)
		}
		other := &Image{}
		if err := fillBlobs(other, m, what); err != nil {
			return err
		}
		img.Manifests = append(img.Manifests, m.desc)
		img.Others = append(append(img.Others, other.Config), other.Layers...)
	}
	return nil
}

// fillBlobs reads the config and layers from a manifest.
func fillBlobs(img *Image, m rawManifest, what string) error {
	mf, err := v1.ParseManifest(bytes.NewReader(m.bytes))
	if err != nil {
		return fmt.Errorf("%s: manifest %s: %w", what, m.desc.Digest, err)
	}
	img.Config = descBlob(&mf.Config)
	for i := range mf.Layers {
		img.Layers = append(img.Layers, descBlob(&mf.Layers[i]))
	}
	return nil
}

// notePlatform fills Platform from the config of a single-platform image
// and warns when it is not the platform asked for.
func (p *Puller) notePlatform(img *Image) {
	if img.Platform != "" {
		return
	}
	img.Platform = p.configPlatform(img.Config)
	want := p.opts.platform.String()
	if img.Platform != "" && img.Platform != want && img.Subject == "" {
		p.opts.logger.Warn("image is built for another platform", "image", img.Name, "platform", img.Platform, "wanted", want)
	}
}

// PullAll pulls every request, at most WithConcurrency images at a time,
// and returns the images in request order, followed (WithSignatures) by
// the signatures and referrers found for them. Every failure is reported,
// joined, not only the first.
func (p *Puller) PullAll(ctx context.Context, reqs []Request) ([]*Image, error) {
	imgs := make([]*Image, len(reqs))
	extra := make([][]*Image, len(reqs))
	errs := make([]error, len(reqs))
	slots := make(chan struct{}, p.opts.imageJobs)
	var wg sync.WaitGroup
	for i, r := range reqs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			imgs[i], errs[i] = p.Pull(ctx, r.Ref, r.Pin)
			if errs[i] == nil && p.opts.signatures {
				extra[i], errs[i] = p.Signatures(ctx, imgs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, e := range extra {
		imgs = append(imgs, e...)
	}
	return imgs, nil
}
