package manifest

import (
	"regexp"

	"github.com/factory-appliance/appliance/internal/ref"
)

// DockerHub is the canonical name of Docker Hub's registry. References
// without a registry ("calico/node:v3.26.4") and references to
// "index.docker.io" are recorded under it.
const DockerHub = ref.DockerHub

// ImageRef is one image of a stack after expansion of image lists.
//
// Ref is the reference exactly as written; it is the name the bundle gives
// the image (org.opencontainers.image.ref.name) and the key in the lock file.
// Canonical is the fully qualified form: registry, full repository path
// (docker.io's implicit "library/" added), then the tag and/or digest, e.g.
// "calico/node:v3.26.4" → "docker.io/calico/node:v3.26.4".
type ImageRef struct {
	Ref        string
	Canonical  string
	Registry   string // "docker.io" for Docker Hub
	Repository string // path inside the registry, e.g. "library/busybox"
	Tag        string // "" when pinned by digest only
	Digest     string // "sha256:<hex>" or ""

	Component string // the component that lists the image
	Source    Pos    // where the reference is written: the manifest, or a list file
	List      string // the list file (manifest-relative) it came from, or ""
	Section   string // the list file's ##section, or ""
	VerifyKey string // public key (path inside Stack.FS) its signature must verify with, or ""
}

// RefError explains why an image reference is refused, and how to fix it.
type RefError = ref.Error

// sha256HexRE is a sha256 in hex, as file pins and the lock write it.
var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseImageRef parses an image reference as written in a manifest or an
// image list, by internal/ref's grammar (ref.Parse). It must be pinned: a
// tag, a digest or both ("repo:tag@sha256:…"); an implicit ":latest" is
// refused because it cannot be reproduced. The registry may be left out,
// meaning Docker Hub, because KubeSphere's image lists are written that
// way; the canonical form always names it. Digests must be sha256. The
// result's Component, Source, List, Section and VerifyKey are empty.
// Errors are *RefError.
func ParseImageRef(s string) (ImageRef, error) {
	r, err := ref.Parse(s)
	if err != nil {
		return ImageRef{}, err
	}
	return ImageRef{Ref: s, Canonical: r.String(), Registry: r.Registry, Repository: r.Repository, Tag: r.Tag, Digest: r.Digest}, nil
}

// CanonicalName returns the canonical form of any reference a container
// runtime would accept, applying Docker's defaults (ref.Canonical): Docker
// Hub for a missing registry, "library/" for a single-component Docker Hub
// path, and ":latest" when there is neither a tag nor a digest. The
// completeness gate uses it to compare what charts and manifests reference
// with what the bundle holds.
func CanonicalName(s string) (string, error) { return ref.Canonical(s) }
