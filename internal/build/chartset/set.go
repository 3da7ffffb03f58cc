// Package chartset makes a bundle's Helm charts: it fetches every chart
// entry of the stack into the content cache (remote charts at their locked
// version and digest for a locked build, every drifted chart listed in one
// *lock.DriftError; local charts packaged reproducibly), makes one Helm OCI
// artifact per distinct chart archive, and hands back the
// charts/<name>-<version>.tgz files (Files) and the artifacts. It records
// each component's charts in bundle.json, and each remote chart's version
// and digest in the lock file. Package build puts the files and artifacts
// into the bundle; rendering the charts is the completeness gate's.
package chartset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// Options are what the charts are fetched from and with: the same
// mirrors, insecure hosts and transport as image pulls. Every field is
// required but Locked.
type Options struct {
	Stack     *manifest.Stack
	Cache     *cas.Store
	Transport http.RoundTripper
	// Mirrors are the manifest's registry mirrors with the command line's.
	Mirrors manifest.Mirrors
	// Insecure are the hosts besides loopback that may be reached over
	// plain HTTP.
	Insecure []string
	Log      *slog.Logger
	// Locked is the lock of a locked build, nil otherwise.
	Locked   *lock.Lock
	Progress *progress.Reporter
}

// Set is what the chart steps carry from fetching to writing.
type Set struct {
	// Fetcher loads the fetched charts from the cache; nil when the
	// stack has no chart.
	Fetcher   *charts.Fetcher
	Fetched   []*charts.Fetched // in manifest order, one per chart entry
	Artifacts []*images.Image   // one Helm OCI artifact per distinct .tgz

	o Options
}

// fetcher returns the set's chart fetcher, made on first use.
func (s *Set) fetcher() *charts.Fetcher {
	if s.Fetcher == nil {
		o := s.o
		s.Fetcher = charts.NewFetcher(o.Cache,
			charts.WithTransport(o.Transport),
			charts.WithMirrors(o.Mirrors),
			charts.WithInsecureHosts(o.Insecure...),
			charts.WithLogger(o.Log))
	}
	return s.Fetcher
}

// Fetch brings every chart of the stack into the cache: remote charts at
// their locked version and digest for a locked build (drift is a
// *lock.DriftError listing every drifted chart), local charts packaged
// reproducibly. Each distinct chart also becomes a Helm OCI artifact. The
// set holds what was fetched, also on an error.
func Fetch(ctx context.Context, o Options) (*Set, error) {
	s := &Set{o: o}
	var errs lock.Errors
	o.Progress.AddTotal(len(o.Stack.Charts()))
	for _, c := range o.Stack.Charts() {
		if got, err := s.fetchChart(ctx, c); errs.Add(err) {
			s.Fetched = append(s.Fetched, got)
		}
	}
	if err := errs.Err(); err != nil {
		return s, err
	}
	return s, s.chartArtifacts()
}

func (s *Set) fetchChart(ctx context.Context, c manifest.Chart) (*charts.Fetched, error) {
	var pin *lock.Chart
	if s.o.Locked != nil && c.LockKey() != "" {
		if lc, ok := s.o.Locked.Charts[c.LockKey()]; ok {
			pin = &lc
		}
	}
	id := "chart " + Label(c)
	s.o.Progress.Start(id, id, 0)
	got, err := s.fetcher().Fetch(ctx, s.o.Stack.FS, c, pin)
	note := ""
	if got != nil {
		note = got.Name + " " + got.Version
	}
	s.o.Progress.Done(id, err, note)
	return got, err
}

// Label names a chart entry: by its lock key, or by its path when local.
func Label(c manifest.Chart) string {
	if c.LockKey() != "" {
		return c.LockKey()
	}
	return c.Path
}

// chartArtifacts makes one OCI artifact per distinct chart archive and
// refuses two different archives that would share a bundle path.
func (s *Set) chartArtifacts() error {
	byFile := map[string]*charts.Fetched{}
	for _, got := range s.Fetched {
		if first, ok := byFile[got.FileName()]; ok {
			if first.Digest != got.Digest {
				return fmt.Errorf("%s: chart %s %s (%s) differs from the chart of the same name and version at %s (%s); rename or re-version one of them",
					got.Chart.Pos, got.Name, got.Version, got.Source, first.Chart.Pos, first.Source)
			}
			continue
		}
		byFile[got.FileName()] = got
		art, err := s.Fetcher.Artifact(got)
		if err != nil {
			return fmt.Errorf("%s: chart %s: OCI artifact: %w", got.Chart.Pos, got.Name, err)
		}
		s.Artifacts = append(s.Artifacts, art)
	}
	return nil
}

// Lock resolves every remote chart of the stack and records its version
// and digest in l. It downloads the archives (they are small), because a
// repository's index need not publish digests.
func Lock(ctx context.Context, o Options, l *lock.Lock) error {
	s := &Set{o: o}
	var errs []error
	for _, c := range o.Stack.Charts() {
		if c.LockKey() == "" {
			continue
		}
		got, err := s.fetcher().Fetch(ctx, o.Stack.FS, c, nil)
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

// File is a chart archive the bundle stores, as a KindChart entry; the
// cache holds its bytes under Digest.
type File struct {
	Path        string // charts/<name>-<version>.tgz
	Name        string
	Component   string
	MediaType   string
	Size        int64
	Digest      string
	Annotations map[string]string
}

// Files are the bundle's charts/<name>-<version>.tgz files, one per
// distinct chart.
func (s *Set) Files() []File {
	var fs []File
	seen := map[string]bool{}
	for _, got := range s.Fetched {
		p := "charts/" + got.FileName()
		if seen[p] {
			continue
		}
		seen[p] = true
		fs = append(fs, File{
			Path: p, Name: got.Name, Component: got.Chart.Component,
			MediaType: charts.ContentMediaType, Size: got.Size, Digest: got.Digest,
			Annotations: map[string]string{
				bundle.AnnotationChartVersion: got.Version,
				"appliance.source":            got.Source,
				"appliance.oci.ref":           charts.ArtifactRef(got),
			},
		})
	}
	return fs
}

// Record adds each component's charts to bundle.json.
func (s *Set) Record(idx *bundle.Index) {
	comps := map[string]*bundle.Component{}
	for i := range idx.Components {
		comps[idx.Components[i].Name] = &idx.Components[i]
	}
	for _, got := range s.Fetched {
		if c := comps[got.Chart.Component]; c != nil {
			p := "charts/" + got.FileName()
			if len(c.Charts) == 0 || c.Charts[len(c.Charts)-1] != p {
				c.Charts = append(c.Charts, p)
			}
		}
	}
}
