package images

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// selectPlatform picks the manifest for the wanted platform from an index.
// An exact variant match wins; without a wanted variant the first os/arch
// match is taken. The error lists the platforms the index has.
func (p *Puller) selectPlatform(idx rawManifest, what string) (Blob, string, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(idx.bytes))
	if err != nil {
		return Blob{}, "", fmt.Errorf("%s: index %s: %w", what, idx.desc.Digest, err)
	}
	want := p.opts.platform
	var fallback *v1.Descriptor
	var have []string
	for i := range im.Manifests {
		d := &im.Manifests[i]
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.OS != want.OS || d.Platform.Architecture != want.Architecture {
			continue
		}
		if normVariant(d.Platform) == normVariant(&want) {
			return descBlob(d), d.Platform.String(), nil
		}
		if want.Variant == "" && fallback == nil {
			fallback = d
		}
	}
	if fallback != nil {
		return descBlob(fallback), fallback.Platform.String(), nil
	}
	return Blob{}, "", fmt.Errorf("%s: index %s has no manifest for %s (it has %s); choose one with --platform: %w",
		what, idx.desc.Digest, want.String(), strings.Join(have, ", "), ErrNoPlatform)
}

// normVariant treats arm64 "v8" as the default variant.
func normVariant(p *v1.Platform) string {
	if p.Architecture == "arm64" && p.Variant == "v8" {
		return ""
	}
	return p.Variant
}

func descBlob(d *v1.Descriptor) Blob {
	return Blob{Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size}
}

// configPlatform reads os/arch[/variant] from a cached image config; "" when
// the config is not an image config.
func (p *Puller) configPlatform(cfg Blob) string {
	rc, _, err := p.cache.Open(cfg.Digest)
	if err != nil {
		return ""
	}
	defer rc.Close()
	cf, err := v1.ParseConfigFile(io.LimitReader(rc, maxManifestSize))
	if err != nil || cf.OS == "" {
		return ""
	}
	return (&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()
}
