package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/bundle"
)

// maxIndexSize bounds index.json, which is read into memory.
const maxIndexSize = 64 << 20

// unit is one image to push: a descriptor of the layout's index.json and
// the name it goes under.
type unit struct {
	target
	desc v1.Descriptor
}

// refersToAnother matches the tags cosign and the OCI referrers fallback
// give to what refers to an image: sha256-<hex>, .sig, .att, .sbom.
var refersToAnother = regexp.MustCompile(`^sha256-[a-f0-9]{64}(\.[a-z]+)?$`)

// late reports whether the unit refers to another image (signatures,
// attestations, referrers pushed by digest), and so goes after the images.
func (u unit) late() bool {
	t, ok := u.ref.(name.Tag)
	return !ok || refersToAnother.MatchString(t.TagStr())
}

// listUnits reads the bundle's index.json and names every image in the
// target. Every naming problem is reported at once, before anything is
// pushed.
func listUnits(ctx context.Context, r *bundle.Reader, host string, plainHTTP bool) ([]unit, error) {
	idx, err := readLayoutIndex(r)
	if err != nil {
		return nil, err
	}
	seen := map[string]v1.Hash{}
	var units []unit
	var errs []error
	for _, d := range idx.Manifests {
		src, ok := imageName(d)
		if !ok {
			errs = append(errs, fmt.Errorf("index.json: manifest %s has no image name (annotation %s or %s); the bundle is not one this tool wrote",
				d.Digest, images.AnnotationImageName, images.AnnotationRefName))
			continue
		}
		t, err := mapName(host, src, d.Digest.String(), plainHTTP)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := t.ref.String()
		if prev, dup := seen[key]; dup {
			if prev != d.Digest {
				errs = append(errs, fmt.Errorf("index.json: %s names two manifests, %s and %s; the bundle is inconsistent, rebuild it", src, prev, d.Digest))
			}
			continue
		}
		seen[key] = d.Digest
		units = append(units, unit{target: t, desc: d})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return units, ctx.Err()
}

// imageName is the name an index.json entry gives its image: the canonical
// name, else the reference as written when it is a full one.
func imageName(d v1.Descriptor) (string, bool) {
	if n := d.Annotations[images.AnnotationImageName]; n != "" {
		return n, true
	}
	n := d.Annotations[images.AnnotationRefName]
	return n, strings.Contains(n, "/")
}

func readLayoutIndex(r *bundle.Reader) (*v1.IndexManifest, error) {
	a, ok := r.Lookup(bundle.OCIIndexName)
	if !ok {
		return nil, fmt.Errorf("the bundle has no %s: it holds no images to push", bundle.OCIIndexName)
	}
	if a.Size > maxIndexSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this tool reads", bundle.OCIIndexName, a.Size, maxIndexSize)
	}
	rc, err := r.Open(a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", bundle.OCIIndexName, bundle.ErrCorrupt, err)
	}
	return &idx, nil
}

// waves splits units into the images, then what refers to them, each
// sorted by target name so runs are reproducible.
func waves(units []unit) [][]unit {
	var first, second []unit
	for _, u := range units {
		if u.late() {
			second = append(second, u)
		} else {
			first = append(first, u)
		}
	}
	for _, w := range [][]unit{first, second} {
		sort.Slice(w, func(i, j int) bool { return w[i].ref.String() < w[j].ref.String() })
	}
	return [][]unit{first, second}
}
