package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// pushIndex pushes the platform manifests of an index that the bundle
// carries, then the index itself.
//
// A bundle keeps only the platform it was built for: the index is kept
// byte for byte (its digest is what the image is known and signed by), but
// the other platforms' manifests are not in the bundle. A registry that
// checks an index's children (Debian's docker-registry, Harbor) then
// refuses the index with MANIFEST_BLOB_UNKNOWN. In that case, when the
// bundle carries exactly one platform and the index goes under a tag, that
// platform's manifest is put under the tag instead, and a warning says so:
// pulls by tag work, pulls by the index digest do not.
func (p *pusher) pushIndex(ctx context.Context, repo name.Repository, desc v1.Descriptor, ref name.Reference, raw []byte, pm *parsedManifest, id string) error {
	carried := p.carried(pm.children)
	for _, c := range carried {
		cref := repo.Digest(c.Digest.String())
		ok, err := p.exists(ctx, cref)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if err := p.pushManifest(ctx, repo, c, cref, id); err != nil {
			return fmt.Errorf("platform manifest %s: %w", c.Digest, err)
		}
	}
	err := p.put(ctx, ref, raw, pm.mediaType, desc.Digest)
	partial := len(carried) < len(pm.children)
	if err == nil || !partial || !isBlobUnknown(err) {
		return err
	}
	tag, isTag := ref.(name.Tag)
	if len(carried) != 1 || !isTag {
		return fmt.Errorf("%w; the bundle carries %d of the index's %d platform manifests, and the registry accepts an index only whole",
			err, len(carried), len(pm.children))
	}
	return p.putPlatformInstead(ctx, tag, desc, carried[0], len(pm.children))
}

// putPlatformInstead puts the one platform manifest the bundle carries
// under tag, in place of its partial index.
func (p *pusher) putPlatformInstead(ctx context.Context, tag name.Tag, index, platform v1.Descriptor, platforms int) error {
	raw, err := readManifest(p.r, platform.Digest)
	if err != nil {
		return err
	}
	if err := p.put(ctx, tag, raw, platform.MediaType, platform.Digest); err != nil {
		return err
	}
	p.warnPlatformInstead(tag, index, platform, platforms)
	return nil
}

func (p *pusher) warnPlatformInstead(tag name.Tag, index, platform v1.Descriptor, platforms int) {
	plat := "?"
	if platform.Platform != nil {
		plat = platform.Platform.String()
	}
	p.warn(fmt.Sprintf("%s: the registry refuses index %s because the bundle carries 1 of its %d platforms; "+
		"the tag holds the %s manifest %s instead (pulls by tag work, pulls by the index digest do not)",
		tag, index.Digest, platforms, plat, platform.Digest))
}

// carried returns the children of an index that the bundle holds.
func (p *pusher) carried(children []v1.Descriptor) []v1.Descriptor {
	var out []v1.Descriptor
	for _, c := range children {
		if _, ok := p.r.Lookup(blobPath(c.Digest)); ok {
			out = append(out, c)
		}
	}
	return out
}

// isBlobUnknown reports whether the registry refused a manifest because
// something it references is missing.
func isBlobUnknown(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestBlobUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
			return true
		}
	}
	return false
}
