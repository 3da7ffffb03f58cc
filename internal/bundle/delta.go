package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// A delta bundle is built against a base bundle: it carries only the image
// blobs the base lacks, and bundle.json names the base (Index.Base: name,
// version and the sha256 of the base's bundle.json, which its signature
// covers). Opened WithBase, a delta reads as the whole: Lookup, Open,
// OpenRange, Artifacts and Verify see the base's entries under the delta's
// own, and every read is verified against the bundle.json that lists the
// entry. A version bump that changes three images then ships those layers,
// not the whole stack again.

// WithBase layers the delta being opened over base, an open Reader of the
// bundle the delta was built against; the Reader closes base when it is
// closed. Opening fails when the bundle is not a delta or when base is not
// the bundle its Index.Base names (compared by the sha256 of bundle.json).
func WithBase(base *Reader) OpenOption {
	return func(o *openOptions) error {
		if base == nil {
			return fmt.Errorf("bundle: WithBase(nil)")
		}
		o.base = base
		return nil
	}
}

// IndexDigest is the sha256 of bundle.json, as a delta's Index.Base records
// it for its base.
func (r *Reader) IndexDigest() string {
	sum := sha256.Sum256(r.raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// BaseRef returns what a delta built against this bundle records as its
// base.
func (r *Reader) BaseRef() *BaseRef {
	return &BaseRef{Name: r.index.Name, Version: r.index.Version, Digest: r.IndexDigest()}
}

// attachBase checks and attaches the base of a delta.
func (r *Reader) attachBase(base *Reader) error {
	want := r.index.Base
	if want == nil {
		return fmt.Errorf("bundle %s %s is not a delta bundle: it needs no base", r.index.Name, r.index.Version)
	}
	got := base.BaseRef()
	if got.Digest != want.Digest {
		return fmt.Errorf("delta bundle %s %s was built against %s %s (bundle.json %s), but the base given is %s %s (bundle.json %s); give the bundle it was built against",
			r.index.Name, r.index.Version, want.Name, want.Version, want.Digest, got.Name, got.Version, got.Digest)
	}
	r.base = base
	return nil
}

// IsDelta reports whether the bundle is a delta, and whether its base is
// attached.
func (r *Reader) IsDelta() (delta, hasBase bool) {
	return r.index.Base != nil, r.base != nil
}

// owner returns the Reader whose bundle.json lists path.
func (r *Reader) owner(path string) (*Reader, bool) {
	if _, ok := r.byPath[path]; ok {
		return r, true
	}
	if r.base != nil {
		return r.base.owner(path)
	}
	return nil, false
}

// Artifacts returns every artifact the bundle reads, in file order: its
// own, then those of its base that it does not list itself.
func (r *Reader) Artifacts() []Artifact {
	arts := append([]Artifact(nil), r.index.Artifacts...)
	sort.Slice(arts, func(i, j int) bool { return arts[i].Offset < arts[j].Offset })
	if r.base != nil {
		for _, a := range r.base.Artifacts() {
			if _, own := r.byPath[a.Path]; !own {
				arts = append(arts, a)
			}
		}
	}
	return arts
}
