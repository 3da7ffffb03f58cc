// Package charts fetches Helm charts into the content cache and renders
// them.
//
// A chart comes from one of three sources (manifest.ChartSource): a chart
// repository (index.yaml over HTTP), an OCI registry (Helm's OCI media
// types), or a local directory in the manifest's tree, which is packaged
// reproducibly (Package). Every chart ends up as a .tgz in the cache under
// its sha256, checked against every digest known for it: the lock's, the
// repository index's, the registry's.
//
// Loading and rendering use the Helm SDK (helm.sh/helm/v3) so a chart
// renders here exactly as `helm template` renders it.
package charts

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// Fetched is a chart in the content cache.
type Fetched struct {
	Chart   manifest.Chart // the manifest entry
	Name    string         // from Chart.yaml
	Version string         // from Chart.yaml: the version chosen
	Digest  string         // sha256 of the .tgz, "sha256:<hex>"
	Size    int64
	// Source is where the .tgz came from: its URL, its OCI reference with
	// tag, or the manifest-relative directory.
	Source string
}

// FileName is the chart's name in the bundle's charts/ directory, as `helm
// package` names it: <name>-<version>.tgz.
func (f *Fetched) FileName() string { return f.Name + "-" + f.Version + ".tgz" }

// Locked returns the lock entry of the chart.
func (f *Fetched) Locked() lock.Chart {
	return lock.Chart{Version: f.Version, Digest: f.Digest}
}

// Fetcher fetches charts into a content cache. It is safe for concurrent
// use.
type Fetcher struct {
	cache     *cas.Store
	transport http.RoundTripper
	keychain  authn.Keychain
	mirrors   manifest.Mirrors
	insecure  fetch.InsecureHosts
	guard     *fetch.Guard // plain HTTP only to loopback and insecure hosts
	log       *slog.Logger
}

// Option configures a Fetcher.
type Option func(*Fetcher)

// WithTransport sets the HTTP transport for repositories and registries.
func WithTransport(rt http.RoundTripper) Option { return func(f *Fetcher) { f.transport = rt } }

// WithKeychain sets the registry credentials for OCI charts (default: the
// Docker config, as `helm registry login` and `docker login` write it).
func WithKeychain(k authn.Keychain) Option { return func(f *Fetcher) { f.keychain = k } }

// WithMirrors fetches OCI charts of a registry from its mirror, as images
// are fetched.
func WithMirrors(m manifest.Mirrors) Option { return func(f *Fetcher) { f.mirrors = m } }

// WithInsecureHosts allows plain HTTP to the named hosts (HOST or
// HOST:PORT), for chart repositories and registries. Loopback never needs
// it. Every other http:// repository is refused.
func WithInsecureHosts(hosts ...string) Option {
	return func(f *Fetcher) {
		for _, h := range hosts {
			f.insecure[h] = true
		}
	}
}

// WithLogger sets where warnings go (plain HTTP to a named insecure host).
func WithLogger(l *slog.Logger) Option { return func(f *Fetcher) { f.log = l } }

// NewFetcher returns a Fetcher storing into cache.
func NewFetcher(cache *cas.Store, opts ...Option) *Fetcher {
	f := &Fetcher{cache: cache, transport: remote.DefaultTransport, keychain: authn.DefaultKeychain,
		insecure: fetch.InsecureHosts{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, o := range opts {
		o(f)
	}
	f.guard = &fetch.Guard{Inner: f.transport, Hosts: f.insecure, Warn: func(host string) {
		f.log.Warn("using plain HTTP to an insecure chart host", "host", host)
	}}
	return f
}

// Fetch brings the chart c into the cache and returns it. fsys is the
// manifest's directory (Stack.FS), where local charts live.
//
// pin, when not nil, is the chart's lock entry: the locked version is
// fetched instead of resolving the constraint, a chart whose locked digest
// is already in the cache is taken from there without any network access,
// and content that does not match the locked digest is refused with a
// *lock.DriftError. Local charts are never pinned; they are packaged
// from the manifest's tree every time.
//
// Whatever the source, the archive must load with Helm and declare the
// expected name (and the version chosen), or nothing is returned.
func (f *Fetcher) Fetch(ctx context.Context, fsys fs.FS, c manifest.Chart, pin *lock.Chart) (*Fetched, error) {
	var (
		got *Fetched
		err error
	)
	switch c.Source {
	case manifest.ChartRepo:
		got, err = f.fetchRepo(ctx, c, pin)
	case manifest.ChartOCI:
		got, err = f.fetchOCI(ctx, c, pin)
	case manifest.ChartLocal:
		if got, err = f.fetchLocal(fsys, c); err != nil {
			return nil, fmt.Errorf("%s: %w", c.Pos, err) // Package's errors name the chart
		}
	default:
		err = fmt.Errorf("unknown chart source %d", c.Source)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: chart %s: %w", c.Pos, describe(c), err)
	}
	if err := f.check(got); err != nil {
		return nil, fmt.Errorf("%s: chart %s: %w", c.Pos, describe(c), err)
	}
	return got, nil
}

// describe names a chart entry as the manifest writes it.
func describe(c manifest.Chart) string {
	switch c.Source {
	case manifest.ChartRepo:
		return fmt.Sprintf("%s %s from %s", c.Name, c.Version, c.Repo)
	case manifest.ChartOCI:
		return c.OCI + " " + c.Version
	default:
		return c.Path
	}
}

// check refuses an archive holding links or paths outside its directory
// (checkArchive), loads it with Helm and compares what it declares with
// what was asked for.
func (f *Fetcher) check(got *Fetched) error {
	want := ""
	switch got.Chart.Source {
	case manifest.ChartRepo:
		want = got.Chart.Name
	case manifest.ChartOCI:
		want = got.Chart.OCI[strings.LastIndex(got.Chart.OCI, "/")+1:]
	}
	if err := f.checkArchive(got.Digest); err != nil {
		return fmt.Errorf("%s (chart %s version %s): %w; the bundle carries only charts made of regular files under their own directory, "+
			"as it packages local ones: ask the chart's publisher for a fixed archive, or keep a fixed copy of the chart as a local directory next to the manifest",
			got.Source, cmp.Or(want, got.Name), got.Version, err)
	}
	ch, err := f.Load(got.Digest)
	if err != nil {
		return err
	}
	md := ch.Metadata
	if want != "" && md.Name != want {
		return fmt.Errorf("%s holds chart %q, not %q", got.Source, md.Name, want)
	}
	if got.Version != "" && md.Version != got.Version {
		return fmt.Errorf("%s holds version %s of chart %s, not %s", got.Source, md.Version, md.Name, got.Version)
	}
	got.Name, got.Version = md.Name, md.Version
	return nil
}

// checkArchive runs checkArchive on the cached chart archive.
func (f *Fetcher) checkArchive(digest string) error {
	rc, _, err := f.cache.Open(digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	return checkArchive(rc)
}

// fetchLocal packages the chart directory and stores the archive.
func (f *Fetcher) fetchLocal(fsys fs.FS, c manifest.Chart) (*Fetched, error) {
	tmp, meta, digest, size, err := packageToFile(fsys, c.Path)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := f.cache.Put("chart "+c.Path, digest, size, tmp); err != nil {
		return nil, err
	}
	return &Fetched{Chart: c, Name: meta.Name, Version: meta.Version, Digest: digest, Size: size, Source: c.Path}, nil
}
