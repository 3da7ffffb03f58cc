package build

import (
	"context"
	"fmt"

	"github.com/factory-appliance/appliance/internal/build/chartset"
	"github.com/factory-appliance/appliance/internal/build/completeness"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/gate"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// chartOptions are the build's settings for its charts: the same mirrors,
// insecure hosts and transport as image pulls, the lock for a locked
// build.
func (b *builder) chartOptions() chartset.Options {
	var locked *lock.Lock
	if b.o.Locked {
		locked = b.o.Lock
	}
	return chartset.Options{
		Stack: b.o.Stack, Cache: b.cache, Transport: b.transport(),
		Mirrors: b.o.Stack.Spec.RegistryMirrors.With(b.o.Mirrors), Insecure: b.insecureHosts(),
		Log: b.log, Locked: locked, Progress: b.prog,
	}
}

// fetchCharts brings every chart of the stack into the cache, pinned by
// the lock for a locked build, and makes each distinct chart a Helm OCI
// artifact (chartset.Fetch).
func (b *builder) fetchCharts(ctx context.Context) error {
	set, err := chartset.Fetch(ctx, b.chartOptions())
	b.charts = set
	return err
}

// chartEntries are the bundle's charts/<name>-<version>.tgz files, one per
// distinct chart.
func (b *builder) chartEntries() []entry {
	var es []entry
	for _, f := range b.charts.Files() {
		es = append(es, entry{
			path: f.Path, kind: bundle.KindChart, name: f.Name, component: f.Component,
			mediaType: f.MediaType, size: f.Size, digest: f.Digest, open: b.cachedOpener(f.Digest),
			annotations: f.Annotations,
		})
	}
	return es
}

// recordAllowMissing adds to bundle.json the images the command line
// allowed to be missing (the manifest's are recorded by index).
func (b *builder) recordAllowMissing(idx *bundle.Index) {
	for _, a := range b.o.AllowMissing {
		if !containsString(idx.AllowedMissing, a) {
			idx.AllowedMissing = append(idx.AllowedMissing, a)
		}
	}
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// checkCompleteness is the air-gap completeness gate
// (completeness.Check) over the images this build pulled. Image fields
// outside Pod templates that name missing images are logged as warnings.
func (b *builder) checkCompleteness(ctx context.Context) error {
	bundled, err := b.bundledInventory()
	if err != nil {
		return err
	}
	r, err := completeness.Check(ctx, completeness.Input{
		Stack: b.o.Stack, Charts: b.charts.Fetcher, Fetched: b.charts.Fetched,
		Bundled: bundled, AllowMissing: b.o.AllowMissing,
	})
	if err != nil {
		return err
	}
	b.report = r
	for _, u := range r.Warnings {
		b.log.Warn(gate.WarningMessage(u))
	}
	for _, u := range r.Allowed {
		b.log.Info("image allowed to be missing from the bundle", "image", u.Image, "referenced by", u.Origin.String())
	}
	return r.Err()
}

func (b *builder) bundledInventory() (*gate.Inventory, error) {
	inv := gate.NewInventory()
	for _, p := range b.images {
		ds := []string{p.img.Digest}
		for _, m := range p.img.Manifests {
			ds = append(ds, m.Digest)
		}
		if err := inv.Add(p.ref.Canonical, ds...); err != nil {
			return nil, fmt.Errorf("image %s: %w", p.ref.Ref, err)
		}
	}
	return inv, nil
}
