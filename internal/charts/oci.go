package charts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// Helm's OCI media types (helm.sh/docs/topics/registries).
const (
	ConfigMediaType     = "application/vnd.cncf.helm.config.v1+json"
	ContentMediaType    = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	ProvenanceMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov"
)

// OCITag is the tag Helm gives a chart version in a registry: OCI tags may
// not hold '+', so Helm writes '_' instead.
func OCITag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// fetchOCI resolves the chart's tag in its registry and stores the chart
// content layer in the cache. The manifest must be a Helm chart artifact
// with exactly one chart content layer.
func (f *Fetcher) fetchOCI(ctx context.Context, c manifest.Chart, pin *lock.Chart) (*Fetched, error) {
	repoName := strings.TrimPrefix(c.OCI, "oci://")
	if got, ok := f.cached(c, pin, c.OCI); ok {
		return got, nil
	}
	repo, err := f.ociRepository(repoName)
	if err != nil {
		return nil, err
	}
	opts := f.remoteOptions(ctx)
	version, err := f.ociVersion(c, repo, pin, opts)
	if err != nil {
		return nil, err
	}
	src := repoName + ":" + OCITag(version)
	layer, err := chartLayer(repo.Tag(OCITag(version)), src, opts)
	if err != nil {
		if pin != nil && isNotFound(err) {
			return nil, drift(c, pin, "")
		}
		return nil, err
	}
	if pin != nil && layer.Digest.String() != pin.Digest {
		return nil, drift(c, pin, layer.Digest.String())
	}
	if err := f.pullLayer(repo, layer, src, opts); err != nil {
		return nil, err
	}
	return &Fetched{Chart: c, Version: version, Digest: layer.Digest.String(), Size: layer.Size, Source: "oci://" + src}, nil
}

// ociRepository names the repository to fetch from: its mirror, if the
// manifest or command line names one, over plain HTTP only for loopback or
// named insecure hosts.
func (f *Fetcher) ociRepository(repoName string) (name.Repository, error) {
	from := repoName
	if f.mirrors != nil {
		from = strings.TrimSuffix(f.mirrors.Rewrite(repoName+":x"), ":x")
	}
	host, _, _ := strings.Cut(from, "/")
	var opts []name.Option
	if f.insecure.PlainHTTPAllowed(host) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(from, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("OCI chart %s: %w", repoName, err)
	}
	return repo, nil
}

func (f *Fetcher) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(f.guard),
		remote.WithAuthFromKeychain(f.keychain),
	}
}

// ociVersion is the version to pull: the locked one, the one written
// exactly, or the newest tag satisfying the constraint.
func (f *Fetcher) ociVersion(c manifest.Chart, repo name.Repository, pin *lock.Chart, opts []remote.Option) (string, error) {
	switch {
	case pin != nil:
		return pin.Version, nil
	case isExactVersion(c.Version):
		return c.Version, nil
	}
	tags, err := remote.List(repo, opts...)
	if err != nil {
		return "", fmt.Errorf("list tags of %s: %w", repo, err)
	}
	versions := make([]string, len(tags))
	for i, t := range tags {
		versions[i] = strings.ReplaceAll(t, "_", "+")
	}
	v, err := resolveVersion(c.Version, versions)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	return v, nil
}

// chartLayer reads the chart artifact's manifest and returns its chart
// content layer.
func chartLayer(ref name.Reference, src string, opts []remote.Option) (v1.Descriptor, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: %w", src, err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(desc.Manifest)))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: manifest: %w", src, err)
	}
	if m.Config.MediaType != ConfigMediaType {
		return v1.Descriptor{}, fmt.Errorf("%s is not a Helm chart: its config media type is %q, not %q", src, m.Config.MediaType, ConfigMediaType)
	}
	var found []v1.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == ContentMediaType {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return v1.Descriptor{}, fmt.Errorf("%s has %d chart content layers (%s); a Helm chart has exactly one", src, len(found), ContentMediaType)
	}
	if found[0].Size > maxChartSize {
		return v1.Descriptor{}, fmt.Errorf("%s: the chart is larger than %d bytes", src, maxChartSize)
	}
	return found[0], nil
}

// pullLayer stores the layer in the cache unless it is there; the bytes
// must hash to the layer's digest.
func (f *Fetcher) pullLayer(repo name.Repository, d v1.Descriptor, src string, opts []remote.Option) error {
	if _, ok := f.cache.Has(d.Digest.String()); ok {
		return nil
	}
	l, err := remote.Layer(repo.Digest(d.Digest.String()), opts...)
	if err != nil {
		return fmt.Errorf("%s: chart layer %s: %w", src, d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("%s: chart layer %s: %w", src, d.Digest, err)
	}
	defer rc.Close()
	return f.cache.Put("chart "+src, d.Digest.String(), d.Size, rc)
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == 404
	}
	return false
}
