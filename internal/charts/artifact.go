package charts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/manifest"
)

// LocalRegistry is the registry name local charts get in the OCI layout
// (charts.local/<name>:<version>): they have no upstream home, and a site
// registry hosts them under this project.
const LocalRegistry = "charts.local"

const ociManifestMediaType = "application/vnd.oci.image.manifest.v1+json"

// ArtifactRef is the name the chart gets as an OCI artifact in the bundle's
// image layout, so a site registry can host it where Helm would pull it:
//
//   - an OCI chart keeps its reference: 127.0.0.1:5000/charts/harbor:1.14.0;
//   - a repository chart is named after its repository URL:
//     https://charts.example.com/stable + redis 17.0.0 →
//     charts.example.com/stable/redis:17.0.0;
//   - a local chart, and a repository chart whose URL makes no valid
//     name, is charts.local/<name>:<version>.
//
// Versions with '+' are tagged with '_' (OCITag), as Helm does.
func ArtifactRef(got *Fetched) string {
	tag := ":" + OCITag(got.Version)
	switch got.Chart.Source {
	case manifest.ChartOCI:
		return strings.TrimPrefix(got.Chart.OCI, "oci://") + tag
	case manifest.ChartRepo:
		if u, err := url.Parse(got.Chart.Repo); err == nil {
			ref := strings.ToLower(strings.Trim(u.Host+u.Path, "/") + "/" + got.Name + tag)
			if _, err := name.ParseReference(ref, name.StrictValidation); err == nil {
				return ref
			}
		}
	}
	return LocalRegistry + "/" + got.Name + tag
}

// Artifact returns the chart as a Helm OCI artifact whose blobs are all in
// the cache: an OCI image manifest with Helm's config media type (the
// config is Chart.yaml's metadata as JSON, as `helm push` writes it) and
// the .tgz as its one chart content layer. The manifest carries no
// creation time, so the same chart always gives the same manifest digest.
// It is idempotent and safe for concurrent use.
func (f *Fetcher) Artifact(got *Fetched) (*images.Image, error) {
	ch, err := f.Load(got.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(ch.Metadata)
	if err != nil {
		return nil, err
	}
	config, err := f.putBytes("chart config "+got.Name, ConfigMediaType, cfg)
	if err != nil {
		return nil, err
	}
	layer := images.Blob{Digest: got.Digest, MediaType: ContentMediaType, Size: got.Size}
	m, err := json.Marshal(ociManifest{
		SchemaVersion: 2, MediaType: ociManifestMediaType,
		Config: descriptorOf(config), Layers: []descriptor{descriptorOf(layer)},
		Annotations: map[string]string{
			"org.opencontainers.image.title":   got.Name,
			"org.opencontainers.image.version": got.Version,
		},
	})
	if err != nil {
		return nil, err
	}
	man, err := f.putBytes("chart manifest "+got.Name, ociManifestMediaType, m)
	if err != nil {
		return nil, err
	}
	ref := ArtifactRef(got)
	return &images.Image{
		Ref: ref, Name: ref, Digest: man.Digest, MediaType: man.MediaType, Size: man.Size,
		Manifests: []images.Blob{man}, Config: config, Layers: []images.Blob{layer},
	}, nil
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

func descriptorOf(b images.Blob) descriptor {
	return descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size}
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func (f *Fetcher) putBytes(what, mediaType string, data []byte) (images.Blob, error) {
	sum := sha256.Sum256(data)
	b := images.Blob{Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: mediaType, Size: int64(len(data))}
	if err := f.cache.Put(what, b.Digest, b.Size, bytes.NewReader(data)); err != nil {
		return images.Blob{}, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}
