package images

// Blob is one piece of content an image needs: a manifest, an index, a
// config or a layer.
type Blob struct {
	Digest    string
	MediaType string
	Size      int64
}

// Descriptor is what a reference resolves to: the top-level manifest or
// index as the registry publishes it.
type Descriptor = Blob

// Image is an image pulled into the content cache. All of Blobs() are in the
// cache, each checked against its digest.
type Image struct {
	Ref       string // the reference as written by the caller
	Name      string // canonical: docker.io/calico/node:v3.26.4, or repo@sha256:... without a tag
	Digest    string // top-level digest as published (the index's, for an index)
	MediaType string // top-level media type
	Size      int64  // top-level manifest or index size
	Platform  string // os/arch[/variant] selected, or read from the config; "" for artifacts
	Manifests []Blob // the index (if any), then the selected manifest
	Config    Blob
	Layers    []Blob
	Subject   string // for signatures and referrers: the digest they refer to
	// Others are the configs and layers of the index's other platforms,
	// kept with WithAllPlatforms (their manifests are in Manifests).
	Others []Blob
}

// Blobs lists every blob the image needs, manifests first, then the config,
// then the layers in order. A blob may appear twice when an image repeats a
// layer.
func (i *Image) Blobs() []Blob {
	out := make([]Blob, 0, len(i.Manifests)+1+len(i.Layers)+len(i.Others))
	out = append(out, i.Manifests...)
	if i.Config.Digest != "" {
		out = append(out, i.Config)
	}
	out = append(out, i.Layers...)
	return append(out, i.Others...)
}

// Request asks PullAll for one image. Pin, when set, is the digest the
// top-level manifest must have (from a lock file).
type Request struct {
	Ref string
	Pin string
}
