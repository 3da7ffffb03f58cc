package build

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/build/completeness"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/gate"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// chartSet is what the chart steps carry from fetching to writing.
type chartSet struct {
	fetcher   *charts.Fetcher
	fetched   []*charts.Fetched // in manifest order, one per chart entry
	artifacts []*images.Image   // one Helm OCI artifact per distinct .tgz
	report    *gate.Report      // the completeness gate's findings
}

// chartFetcher returns the build's chart fetcher, honoring the same
// mirrors, insecure hosts and transport as image pulls.
func (b *builder) chartFetcher() *charts.Fetcher {
	if b.charts.fetcher == nil {
		s := b.o.Stack
		b.charts.fetcher = charts.NewFetcher(b.cache,
			charts.WithTransport(b.transport()),
			charts.WithMirrors(s.Spec.RegistryMirrors.With(b.o.Mirrors)),
			charts.WithInsecureHosts(b.insecureHosts()...),
			charts.WithLogger(b.log))
	}
	return b.charts.fetcher
}

// fetchCharts brings every chart of the stack into the cache: remote charts
// at their locked version and digest for a locked build (drift is a
// *lock.DriftError listing every drifted chart), local charts packaged
// reproducibly. Each distinct chart also becomes a Helm OCI artifact.
func (b *builder) fetchCharts(ctx context.Context) error {
	var errs []error
	var drifts []lock.Drift
	b.prog.AddTotal(len(b.o.Stack.Charts()))
	for _, c := range b.o.Stack.Charts() {
		got, err := b.fetchChart(ctx, c)
		var de *lock.DriftError
		switch {
		case errors.As(err, &de):
			drifts = append(drifts, de.Drifts...)
		case err != nil:
			errs = append(errs, err)
		default:
			b.charts.fetched = append(b.charts.fetched, got)
		}
	}
	if len(drifts) > 0 {
		sort.Slice(drifts, func(i, j int) bool { return drifts[i].Name < drifts[j].Name })
		errs = append(errs, &lock.DriftError{Drifts: drifts})
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return b.chartArtifacts()
}

func (b *builder) fetchChart(ctx context.Context, c manifest.Chart) (*charts.Fetched, error) {
	var pin *lock.Chart
	if b.o.Locked && c.LockKey() != "" {
		if lc, ok := b.o.Lock.Charts[c.LockKey()]; ok {
			pin = &lc
		}
	}
	id := "chart " + chartLabel(c)
	b.prog.Start(id, id, 0)
	got, err := b.chartFetcher().Fetch(ctx, b.o.Stack.FS, c, pin)
	note := ""
	if got != nil {
		note = got.Name + " " + got.Version
	}
	b.prog.Done(id, err, note)
	return got, err
}

func chartLabel(c manifest.Chart) string {
	if c.LockKey() != "" {
		return c.LockKey()
	}
	return c.Path
}

// chartArtifacts makes one OCI artifact per distinct chart archive and
// refuses two different archives that would share a bundle path.
func (b *builder) chartArtifacts() error {
	byFile := map[string]*charts.Fetched{}
	for _, got := range b.charts.fetched {
		if first, ok := byFile[got.FileName()]; ok {
			if first.Digest != got.Digest {
				return fmt.Errorf("%s: chart %s %s (%s) differs from the chart of the same name and version at %s (%s); rename or re-version one of them",
					got.Chart.Pos, got.Name, got.Version, got.Source, first.Chart.Pos, first.Source)
			}
			continue
		}
		byFile[got.FileName()] = got
		art, err := b.charts.fetcher.Artifact(got)
		if err != nil {
			return fmt.Errorf("%s: chart %s: OCI artifact: %w", got.Chart.Pos, got.Name, err)
		}
		b.charts.artifacts = append(b.charts.artifacts, art)
	}
	return nil
}

// lockCharts resolves every remote chart of the stack and records its
// version and digest in lock. It downloads the archives (they are small),
// because a repository's index need not publish digests.
func (b *builder) lockCharts(ctx context.Context, l *lock.Lock) error {
	var errs []error
	for _, c := range b.o.Stack.Charts() {
		if c.LockKey() == "" {
			continue
		}
		got, err := b.chartFetcher().Fetch(ctx, b.o.Stack.FS, c, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if l.Charts == nil {
			l.Charts = map[string]lock.Chart{}
		}
		l.Charts[c.LockKey()] = got.Locked()
	}
	return errors.Join(errs...)
}

// chartEntries are the bundle's charts/<name>-<version>.tgz files, one per
// distinct chart.
func (b *builder) chartEntries() []entry {
	var es []entry
	seen := map[string]bool{}
	for _, got := range b.charts.fetched {
		p := "charts/" + got.FileName()
		if seen[p] {
			continue
		}
		seen[p] = true
		es = append(es, entry{
			path: p, kind: bundle.KindChart, name: got.Name, component: got.Chart.Component,
			mediaType: charts.ContentMediaType, size: got.Size, digest: got.Digest, open: b.cachedOpener(got.Digest),
			annotations: map[string]string{
				bundle.AnnotationChartVersion: got.Version,
				"appliance.source":            got.Source,
				"appliance.oci.ref":           charts.ArtifactRef(got),
			},
		})
	}
	return es
}

// chartImages are the charts as Helm OCI artifacts, for the bundle's OCI
// image layout.
func (b *builder) chartImages() []*images.Image { return b.charts.artifacts }

// recordCharts adds to bundle.json what the chart steps know: each
// component's charts, and the images the command line allowed to be
// missing (the manifest's are recorded by index).
func (b *builder) recordCharts(idx *bundle.Index) {
	comps := map[string]*bundle.Component{}
	for i := range idx.Components {
		comps[idx.Components[i].Name] = &idx.Components[i]
	}
	for _, got := range b.charts.fetched {
		if c := comps[got.Chart.Component]; c != nil {
			p := "charts/" + got.FileName()
			if len(c.Charts) == 0 || c.Charts[len(c.Charts)-1] != p {
				c.Charts = append(c.Charts, p)
			}
		}
	}
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
		Stack: b.o.Stack, Charts: b.charts.fetcher, Fetched: b.charts.fetched,
		Bundled: bundled, AllowMissing: b.o.AllowMissing,
	})
	if err != nil {
		return err
	}
	b.charts.report = r
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
