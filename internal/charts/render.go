package charts

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// KubeVersion is the Kubernetes version charts are rendered for: the
// Capabilities.KubeVersion templates see. The stack runs Kubernetes 1.26.
const KubeVersion = "v1.26.15"

// maxValuesSize bounds one values file.
const maxValuesSize = 4 << 20

// Load reads the cached chart archive with the given digest with Helm's
// loader. The whole archive is read and checked against its digest before
// the chart is returned.
func (f *Fetcher) Load(digest string) (*chart.Chart, error) {
	rc, _, err := f.cache.Open(digest)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", digest, err)
	}
	defer rc.Close()
	ch, err := loader.LoadArchive(rc)
	if err != nil {
		return nil, fmt.Errorf("chart %s: Helm cannot load it: %w", digest, err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil { // the digest is checked at EOF
		return nil, fmt.Errorf("chart %s: %w", digest, err)
	}
	return ch, nil
}

// ReadValues parses one Helm values file (a YAML mapping).
func ReadValues(name string, r io.Reader) (map[string]any, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxValuesSize+1))
	if err != nil {
		return nil, fmt.Errorf("values %s: %w", name, err)
	}
	if len(data) > maxValuesSize {
		return nil, fmt.Errorf("values %s is larger than %d bytes", name, maxValuesSize)
	}
	v, err := chartutil.ReadValues(data)
	if err != nil {
		return nil, fmt.Errorf("values %s: %w", name, err)
	}
	return v, nil
}

// MergeValues merges values files in order, later files winning, as `helm
// template -f a.yaml -f b.yaml` does: maps merge key by key, any other
// value replaces.
func MergeValues(files ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, f := range files {
		out = mergeMaps(out, f)
	}
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Release names a rendering of a chart.
type Release struct {
	Name      string
	Namespace string
}

// Rendered is one rendered template of a chart.
type Rendered struct {
	// Template is the template's path in the chart, subcharts included:
	// "templates/deployment.yaml", "charts/redis/templates/master.yaml".
	Template string
	Content  string
}

// Render renders the chart as `helm template` (helm install --dry-run
// --client-only) does for Kubernetes KubeVersion: dependencies are enabled
// or disabled by their conditions and tags, the values are checked against
// the chart's values.schema.json, and the release is an install of
// revision 1. Partials, NOTES.txt and templates that render to nothing are
// left out; the rest is returned sorted by template path.
func Render(ch *chart.Chart, rel Release, values map[string]any) ([]Rendered, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, err
	}
	caps.KubeVersion = *kv
	if err := chartutil.ProcessDependenciesWithMerge(ch, values); err != nil {
		return nil, fmt.Errorf("chart %s: dependencies: %w", ch.Name(), err)
	}
	opts := chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true}
	vals, err := chartutil.ToRenderValues(ch, values, opts, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %s: values: %w", ch.Name(), err)
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s: render: %w", ch.Name(), err)
	}
	var rendered []Rendered
	for _, name := range slices.Sorted(maps.Keys(out)) {
		content := out[name]
		base := name[strings.LastIndex(name, "/")+1:]
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || strings.TrimSpace(content) == "" {
			continue
		}
		rendered = append(rendered, Rendered{Template: strings.TrimPrefix(name, ch.Name()+"/"), Content: content})
	}
	return rendered, nil
}
