package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// maxManifestSize bounds the manifests read into memory.
const maxManifestSize = 4 << 20

// ErrMissingBlob is wrapped when an image needs a blob the bundle does not
// carry.
var ErrMissingBlob = errors.New("blob is not in the bundle")

// blobPath is the bundle path of a blob of the OCI layout.
func blobPath(d v1.Hash) string { return "blobs/sha256/" + d.Hex }

// lookupBlob returns the bundle artifact holding d, checking that the
// bundle lists it under that digest.
func lookupBlob(r *bundle.Reader, d v1.Hash) (bundle.Artifact, error) {
	if d.Algorithm != "sha256" {
		return bundle.Artifact{}, fmt.Errorf("%s: only sha256 digests are supported", d)
	}
	a, ok := r.Lookup(blobPath(d))
	if !ok {
		return bundle.Artifact{}, fmt.Errorf("%s: %w", d, ErrMissingBlob)
	}
	if a.Digest != d.String() {
		return bundle.Artifact{}, fmt.Errorf("%s: bundle.json lists %s with digest %s; the bundle is inconsistent, rebuild it: %w",
			d, a.Path, a.Digest, bundle.ErrCorrupt)
	}
	return a, nil
}

// readManifest returns the verified bytes of the manifest d.
func readManifest(r *bundle.Reader, d v1.Hash) ([]byte, error) {
	a, err := lookupBlob(r, d)
	if err != nil {
		return nil, err
	}
	if a.Size > maxManifestSize {
		return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d a manifest may have", d, a.Size, maxManifestSize)
	}
	rc, err := r.Open(a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // bounded by a.Size, which the reader enforces
	if err != nil {
		return nil, err
	}
	return b, nil
}

// rawManifest is a manifest pushed byte for byte as the bundle holds it, so
// its digest in the registry is the bundle's.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
	d   v1.Hash
}

func (m *rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m *rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
func (m *rawManifest) Digest() (v1.Hash, error)            { return m.d, nil }
func (m *rawManifest) Size() (int64, error)                { return int64(len(m.raw)), nil }

// parsedManifest is what the push needs to know of a manifest: its
// children (for an index) or blobs (config and layers).
type parsedManifest struct {
	mediaType types.MediaType
	children  []v1.Descriptor
	blobs     []v1.Descriptor
}

func (p *parsedManifest) isIndex() bool { return p.mediaType.IsIndex() }

// parseManifest reads a manifest or index; the media type comes from the
// document, else from the descriptor that pointed at it (OCI allows leaving
// it out of the document).
func parseManifest(raw []byte, descType types.MediaType) (*parsedManifest, error) {
	var doc struct {
		MediaType types.MediaType `json:"mediaType"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	p := &parsedManifest{mediaType: doc.MediaType}
	if p.mediaType == "" {
		p.mediaType = descType
	}
	switch {
	case p.mediaType.IsIndex():
		p.children = doc.Manifests
	case p.mediaType.IsImage() || doc.Config != nil:
		if doc.Config == nil {
			return nil, errors.New("image manifest has no config")
		}
		p.blobs = append([]v1.Descriptor{*doc.Config}, doc.Layers...)
	default:
		return nil, fmt.Errorf("media type %q is neither an image manifest nor an index", p.mediaType)
	}
	return p, nil
}

// bundleLayer is a blob of the bundle as a go-containerregistry layer:
// Compressed streams the blob straight from the bundle file, verified chunk
// by chunk, and never holds it whole in memory.
type bundleLayer struct {
	r        *bundle.Reader
	a        bundle.Artifact
	d        v1.Hash
	mt       types.MediaType
	progress func(n int64)
}

// newLayer returns the blob described by desc as a v1.Layer.
func newLayer(r *bundle.Reader, desc v1.Descriptor, progress func(int64)) (v1.Layer, error) {
	a, err := lookupBlob(r, desc.Digest)
	if err != nil {
		return nil, err
	}
	if a.Size != desc.Size {
		return nil, fmt.Errorf("%s: the manifest says %d bytes, the bundle holds %d: %w", desc.Digest, desc.Size, a.Size, bundle.ErrCorrupt)
	}
	return partial.CompressedToLayer(&bundleLayer{r: r, a: a, d: desc.Digest, mt: desc.MediaType, progress: progress})
}

func (l *bundleLayer) Digest() (v1.Hash, error)            { return l.d, nil }
func (l *bundleLayer) Size() (int64, error)                { return l.a.Size, nil }
func (l *bundleLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Compressed returns the blob's bytes as stored (for a layer, compressed).
// A read that does not match the digest fails, so the registry never
// receives a complete corrupt blob.
func (l *bundleLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.r.Open(l.a)
	if err != nil {
		return nil, err
	}
	if l.progress == nil {
		return rc, nil
	}
	return &progressReader{rc: rc, f: l.progress}, nil
}

type progressReader struct {
	rc io.ReadCloser
	f  func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	if n > 0 {
		p.f(int64(n))
	}
	return n, err
}

// WriteTo lets the bundle's reader write its verified chunks straight to w
// (see bodyconn.go), counting them as they go.
func (p *progressReader) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(&progressWriter{w: w, f: p.f}, p.rc)
}

func (p *progressReader) Close() error { return p.rc.Close() }

type progressWriter struct {
	w io.Writer
	f func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.f(int64(n))
	}
	return n, err
}

// isForeign reports whether a layer is non-distributable: registries do not
// take it, and bundles do not carry it.
func isForeign(mt types.MediaType) bool {
	return !mt.IsDistributable() || strings.Contains(string(mt), "nondistributable")
}
