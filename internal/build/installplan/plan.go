// Package installplan owns the install plan: what deploy's /stack phase
// installs, recorded per component in bundle.json
// (bundle.Component.Releases and .Manifests), in the stack's order: each
// component's releases in the order of its charts, then its manifests in
// the order listed. A release is named by the chart entry's release
// (default: the chart's name) and installed in its namespace (default:
// the component's name), with the component's values files and then the
// chart's own, later files winning. The values files and manifests are
// stored as they are, as KindConfig entries at values/<component>/<file
// name> and manifests/<component>/<file name>.
//
// Package build fetches the charts before the plan is made, and writes the
// files the plan lists (Plan.Configs) into the bundle.
package installplan

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/names"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/manifest"
)

// Plan is what deploy's /stack phase installs, planned for a stack and
// its fetched charts: what to record in bundle.json (Record) and the
// files to store (Configs).
type Plan struct {
	Configs []Config                // values files and manifests, each once
	comps   map[string]*plannedComp // by component name
}

// Config is a values file or manifest the bundle stores, as a KindConfig
// entry.
type Config struct {
	Path        string // in the bundle
	Name        string
	Component   string
	Size        int64
	Annotations map[string]string
	Open        func() (io.ReadCloser, error)
}

type plannedComp struct {
	releases  []bundle.Release
	manifests []string
}

// New checks the release names and stores nothing: it lists the values
// files and manifests to write and the plan to record. fetched are the
// stack's charts, one per chart entry that could be fetched; a chart's
// name, the default release name, may come from its Chart.yaml.
func New(s *manifest.Stack, fetched []*charts.Fetched) (*Plan, error) {
	byPos := map[manifest.Pos]*charts.Fetched{} // by the chart entry's position
	for _, got := range fetched {
		byPos[got.Chart.Pos] = got
	}
	chartName := func(c *manifest.Chart) string {
		if got := byPos[c.Pos]; got != nil {
			return got.Name
		}
		return ""
	}
	if err := CheckReleases(s, chartName); err != nil {
		return nil, err
	}
	p := &Plan{comps: map[string]*plannedComp{}}
	configs := configSet{stack: s, byPath: map[string]manifest.PathRef{}}
	for i := range s.Spec.Components {
		comp := &s.Spec.Components[i]
		pc := &plannedComp{}
		p.comps[comp.Name] = pc
		compValues := configs.addAll("values", comp.Name, comp.Values)
		for j := range comp.Charts {
			c := &comp.Charts[j]
			got := byPos[c.Pos]
			if got == nil {
				continue // the build could not fetch it, and said so
			}
			pc.releases = append(pc.releases, bundle.Release{
				Name:      releaseName(c, got.Name),
				Namespace: releaseNamespace(c),
				Chart:     "charts/" + got.FileName(),
				Values:    append(append([]string(nil), compValues...), configs.addAll("values", comp.Name, c.Values)...),
			})
		}
		pc.manifests = configs.addAll("manifests", comp.Name, comp.Manifests)
	}
	if err := errors.Join(configs.errs...); err != nil {
		return nil, err
	}
	p.Configs = configs.entries
	return p, nil
}

func releaseName(c *manifest.Chart, chartName string) string {
	if c.Release != "" {
		return c.Release
	}
	return chartName
}

func releaseNamespace(c *manifest.Chart) string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return c.Component
}

// CheckReleases checks every release name of the stack: one Helm accepts,
// and unique in the stack, where deploy's phases are /stack/<release> and
// /stack/<component>-manifests. chartName gives the name of a chart entry's
// chart ("" when it is not known, as for a local chart that could not be
// read; such an entry is left out).
func CheckReleases(s *manifest.Stack, chartName func(*manifest.Chart) string) error {
	var errs []error
	taken := map[string]string{} // release or step name → what took it
	for _, comp := range s.Spec.Components {
		if len(comp.Manifests) > 0 {
			taken[comp.Name+bundle.ManifestsSuffix] = fmt.Sprintf("the manifests of component %s (%s)", comp.Name, comp.Pos)
		}
	}
	for _, comp := range s.Spec.Components {
		for j := range comp.Charts {
			c := &comp.Charts[j]
			name, from := c.Release, "release"
			if name == "" {
				name, from = chartName(c), "the chart's name, the default release"
			}
			if name == "" {
				continue
			}
			if !names.ValidReleaseName(name) {
				errs = append(errs, fmt.Errorf("%s: release name %q (%s) is not one Helm accepts: lower-case letters, digits and '-', starting and ending with a letter or digit, at most %d; set release: in the chart entry",
					c.Pos, name, from, names.MaxReleaseNameLen))
				continue
			}
			if prev, dup := taken[name]; dup {
				errs = append(errs, fmt.Errorf("%s: release name %q (%s) is already taken by %s; every release needs its own name, since deploy installs it as phase /stack/%s: set release: in one of the chart entries",
					c.Pos, name, from, prev, name))
				continue
			}
			taken[name] = fmt.Sprintf("the chart at %s", c.Pos)
		}
	}
	return errors.Join(errs...)
}

// configSet collects the values files and manifests the bundle stores,
// each once per component.
type configSet struct {
	stack   *manifest.Stack
	byPath  map[string]manifest.PathRef // entry path → the manifest path it holds
	entries []Config
	errs    []error
}

// addAll adds the files refs to dir/<component>/ and returns their entry
// paths, in order.
func (cs *configSet) addAll(dir, component string, refs []manifest.PathRef) []string {
	var out []string
	for _, r := range refs {
		if p, ok := cs.add(dir, component, r); ok {
			out = append(out, p)
		}
	}
	return out
}

func (cs *configSet) add(dir, component string, r manifest.PathRef) (string, bool) {
	what := "manifest"
	if dir == "values" {
		what = "values file"
	}
	p := path.Join(dir, component, path.Base(r.Path))
	if prev, ok := cs.byPath[p]; ok {
		if path.Clean(prev.Path) == path.Clean(r.Path) {
			if prev.Template == r.Template {
				return p, true // the same file again: stored once
			}
			cs.errs = append(cs.errs, fmt.Errorf("%s: %s %s is a template here and not at %s (or the other way round); mark it template: true in both places or in neither",
				r.Pos, what, r.Path, prev.Pos))
			return "", false
		}
		cs.errs = append(cs.errs, fmt.Errorf("%s: %s %s has the same file name as %s (%s) in component %s, and both would be stored at %s; rename one of them",
			r.Pos, what, r.Path, prev.Path, prev.Pos, component, p))
		return "", false
	}
	fi, err := fs.Stat(cs.stack.FS, path.Clean(r.Path))
	if err != nil {
		cs.errs = append(cs.errs, fmt.Errorf("%s: %s %s: %w", r.Pos, what, r.Path, err))
		return "", false
	}
	if !fi.Mode().IsRegular() {
		cs.errs = append(cs.errs, fmt.Errorf("%s: %s %s is not a regular file", r.Pos, what, r.Path))
		return "", false
	}
	cs.byPath[p] = r
	src := r.Path
	ann := map[string]string{bundle.AnnotationStackPath: src}
	if r.Template {
		ann[bundle.AnnotationTemplate] = "true" // stored as written, rendered by deploy
	}
	cs.entries = append(cs.entries, Config{
		Path: p, Name: path.Base(r.Path), Component: component, Size: fi.Size(),
		Annotations: ann,
		Open:        func() (io.ReadCloser, error) { return cs.stack.Open(src) },
	})
	return p, true
}

// Record adds the plan to bundle.json (nothing for a nil plan).
func (p *Plan) Record(idx *bundle.Index) {
	if p == nil {
		return
	}
	for i := range idx.Components {
		if pc := p.comps[idx.Components[i].Name]; pc != nil {
			idx.Components[i].Releases = pc.releases
			idx.Components[i].Manifests = pc.manifests
		}
	}
}
