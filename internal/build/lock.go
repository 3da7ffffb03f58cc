package build

import (
	"context"
	"errors"
	"fmt"

	"github.com/factory-appliance/appliance/internal/build/chartset"
	"github.com/factory-appliance/appliance/internal/build/rpmrepo"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// Lock resolves every remote artifact of o.Stack to the digest upstream
// serves now, without downloading any layer, and returns the lock file.
// URL files are downloaded into the cache (there is no other way to learn
// their digest) and their signatures verified where the manifest requires
// one. An image missing upstream fails with every missing image listed.
func Lock(ctx context.Context, o Options) (*lock.Lock, error) {
	if o.Output == "" {
		o.Output = "-"
	}
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	defer b.prog.Close()
	refs := b.o.Stack.Images()
	digests, err := b.resolveAll(ctx, refs)
	if err != nil {
		return nil, err
	}
	l := lock.New(b.o.Stack)
	var missing []error
	for i, r := range refs {
		if digests[i] == "" {
			missing = append(missing, b.missingImage(r))
			continue
		}
		l.Images[r.Ref] = digests[i]
	}
	if err := b.lockFiles(ctx, l); err != nil {
		missing = append(missing, err)
	}
	rp, err := rpmrepo.Resolve(ctx, b.rpmOptions())
	if err != nil {
		missing = append(missing, err)
	}
	rp.Lock(l)
	if err := chartset.Lock(ctx, b.chartOptions(), l); err != nil {
		missing = append(missing, err)
	}
	return l, errors.Join(missing...)
}

// missingImage is the error for an image its registry does not have, at
// the manifest line that names it, with the fix: the same from bundle lock
// and from an unlocked bundle build.
func (b *builder) missingImage(r manifest.ImageRef) error {
	return fmt.Errorf("%s: image %s is not in its registry (fetched from %s); fix the reference or push the image", r.Source, r.Ref, b.fetchName(r))
}

// fetchName is where an image is fetched from: its mirror, if any.
func (b *builder) fetchName(r manifest.ImageRef) string {
	return b.o.Stack.Spec.RegistryMirrors.With(b.o.Mirrors).Rewrite(r.Canonical)
}

// lockFiles records the sha256 and size of every URL file: what upstream
// serves now, downloaded into the cache, and verified against its
// signature when the manifest requires one. A file whose manifest entry
// pins a sha256 must still match it, and is not downloaded again when the
// cache holds it.
func (b *builder) lockFiles(ctx context.Context, l *lock.Lock) error {
	var errs []error
	for _, f := range b.o.Stack.Files() {
		if f.URL == "" {
			continue
		}
		b.prog.AddTotal(1)
		got, err := b.fetchURL(ctx, f, lock.File{SHA256: f.SHA256})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.Files[f.URL] = got
	}
	return errors.Join(errs...)
}
