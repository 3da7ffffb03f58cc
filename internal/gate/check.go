package gate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/factory-appliance/appliance/manifest"
)

// Inventory is a set of images, matched the way a container runtime pulls
// them: a reference by tag matches an image with the same canonical
// repository and tag; a reference by digest (with or without a tag)
// matches an image of the same canonical repository with that digest,
// whether it is the image's index digest or one of its manifests'. The
// zero value is not usable; use NewInventory. It is not safe for
// concurrent writes.
type Inventory struct {
	tags    map[string]bool // repo:tag
	digests map[string]bool // repo@digest
}

// NewInventory returns an empty inventory.
func NewInventory() *Inventory {
	return &Inventory{tags: map[string]bool{}, digests: map[string]bool{}}
}

// Add records an image by its reference (any form CanonicalName accepts)
// and the digests it is known by besides the one the reference names.
func (inv *Inventory) Add(ref string, digests ...string) error {
	repo, tag, digest, err := split(ref)
	if err != nil {
		return err
	}
	if tag != "" {
		inv.tags[repo+":"+tag] = true
	}
	for _, d := range append(digests, digest) {
		if d != "" {
			inv.digests[repo+"@"+d] = true
		}
	}
	return nil
}

// Has reports whether the image a reference names is in the inventory.
func (inv *Inventory) Has(ref string) bool {
	repo, tag, digest, err := split(ref)
	if err != nil {
		return false
	}
	if digest != "" {
		return inv.digests[repo+"@"+digest]
	}
	return inv.tags[repo+":"+tag]
}

// hasName is Has, but a reference by tag and digest also matches by tag:
// allowing "busybox:1.36" allows it whatever its digest.
func (inv *Inventory) hasName(ref string) bool {
	if inv.Has(ref) {
		return true
	}
	repo, tag, _, err := split(ref)
	return err == nil && tag != "" && inv.tags[repo+":"+tag]
}

// split returns the canonical repository, tag and digest of ref.
func split(ref string) (repo, tag, digest string, err error) {
	c, err := manifest.CanonicalName(ref)
	if err != nil {
		return "", "", "", err
	}
	c, digest, _ = strings.Cut(c, "@")
	if i := strings.LastIndex(c, ":"); i > strings.LastIndex(c, "/") {
		c, tag = c[:i], c[i+1:]
	}
	return c, tag, digest, nil
}

// Report is the outcome of Check.
type Report struct {
	Checked  int   // distinct references checked
	Missing  []Use // workload images not in the bundle and not allowed
	Invalid  []Use // workload images that are not valid references
	Allowed  []Use // images not in the bundle, allowed to be missing
	Warnings []Use // non-workload image fields naming images not in the bundle
}

// Check compares uses with the bundled images and the images allowed to be
// missing. Every use is reported, sorted by image then origin, so a message
// names each place an image is needed.
func Check(uses []Use, bundled, allowed *Inventory) *Report {
	r := &Report{}
	seen := map[string]bool{}
	for _, u := range uses {
		if !seen[u.Image] {
			seen[u.Image] = true
			r.Checked++
		}
		if _, err := manifest.CanonicalName(u.Image); err != nil {
			if u.Workload {
				r.Invalid = append(r.Invalid, u)
			} else {
				r.Warnings = append(r.Warnings, u)
			}
			continue
		}
		switch {
		case bundled.Has(u.Image):
		case allowed.hasName(u.Image):
			r.Allowed = append(r.Allowed, u)
		case u.Workload:
			r.Missing = append(r.Missing, u)
		default:
			r.Warnings = append(r.Warnings, u)
		}
	}
	for _, l := range [][]Use{r.Missing, r.Invalid, r.Allowed, r.Warnings} {
		slices.SortStableFunc(l, compareUses)
	}
	return r
}

func compareUses(a, b Use) int {
	return cmp.Or(cmp.Compare(canonical(a.Image), canonical(b.Image)), cmp.Compare(a.Origin.String(), b.Origin.String()))
}

// canonical is the canonical form of ref, or ref itself when it is not a
// valid reference.
func canonical(ref string) string {
	if c, err := manifest.CanonicalName(ref); err == nil {
		return c
	}
	return ref
}

// Err returns a *MissingError when an image is missing or invalid, or nil.
func (r *Report) Err() error {
	if len(r.Missing) == 0 && len(r.Invalid) == 0 {
		return nil
	}
	return &MissingError{Missing: r.Missing, Invalid: r.Invalid}
}

// MissingError fails a build whose charts or manifests need images the
// bundle lacks. It lists every one, with every place it is used.
type MissingError struct {
	Missing []Use
	Invalid []Use
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d image reference(s) the air-gapped site could not pull:", len(e.Missing)+len(e.Invalid))
	for _, u := range e.Missing {
		b.WriteString("\n  ")
		b.WriteString(MissingMessage(u))
	}
	for _, u := range e.Invalid {
		fmt.Fprintf(&b, "\n  image %q referenced by %s is not a valid image reference; fix the chart's values or the manifest", u.Image, u.Origin)
	}
	return b.String()
}

// MissingMessage is the line that names one missing image: what, where it
// is used, and the two ways out.
func MissingMessage(u Use) string {
	c := canonical(u.Image)
	return fmt.Sprintf("image %s referenced by %s is not in the bundle; add it to component %q or allow it with --allow-missing-image %s", c, u.Origin, u.Origin.Component, c)
}

// WarningMessage is the line that names an image field outside a Pod
// template that names an image the bundle lacks.
func WarningMessage(u Use) string {
	if _, err := manifest.CanonicalName(u.Image); err != nil {
		return fmt.Sprintf("field %s of %s holds %q, which is not an image reference; if it names an image, add that image to the bundle", u.Origin.Field, u.Origin, u.Image)
	}
	return fmt.Sprintf("image %s named by %s is not in the bundle; if the operator pulls it, add it to component %q", canonical(u.Image), u.Origin, u.Origin.Component)
}
