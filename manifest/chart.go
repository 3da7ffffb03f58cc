package manifest

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/manifest/decode"

	"github.com/factory-appliance/appliance/internal/ref"
)

var chartNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

var chartFields = []string{"name", "repo", "oci", "path", "version", "release", "namespace", "values"}

func (p *parser) chart(c *Component, n *yaml.Node) {
	f := p.Fields(n, "a chart entry", chartFields...)
	if f == nil {
		return
	}
	ch := Chart{Component: c.Name, Pos: p.Pos(n)}
	if !p.chartSource(&ch, f, n) {
		return
	}
	if v, ok := f["release"]; ok {
		ch.Release = p.label(v.Val, "chart release")
	}
	if v, ok := f["namespace"]; ok {
		ch.Namespace = p.label(v.Val, "chart namespace")
	}
	if v, ok := f["values"]; ok {
		ch.Values = p.paths(v.Val, "chart values")
	}
	key := strings.Join([]string{"chart", c.Name, ch.Name, ch.Repo, ch.OCI, ch.Path, ch.Release}, "\x00")
	if prev, dup := p.seen(key, ch.Pos); dup {
		p.Errorf(n, "remove the repeat, or give it another release name", "chart is listed twice in component %q (first at %s)", c.Name, prev)
		return
	}
	c.Charts = append(c.Charts, ch)
}

// chartSource reads exactly one source (name+repo, oci or path) and the
// version that goes with it.
func (p *parser) chartSource(ch *Chart, f map[string]decode.Field, n *yaml.Node) bool {
	_, hasName := f["name"]
	_, hasRepo := f["repo"]
	_, hasOCI := f["oci"]
	_, hasPath := f["path"]
	sources := 0
	for _, has := range []bool{hasName || hasRepo, hasOCI, hasPath} {
		if has {
			sources++
		}
	}
	const fix = "give exactly one of {name, repo} (chart repository), {oci} (OCI registry) or {path} (local directory)"
	switch {
	case sources != 1:
		p.Errorf(n, fix, "a chart entry needs exactly one source, found %d", sources)
		return false
	case hasName != hasRepo:
		p.Errorf(n, fix, "a chart from a repository needs both name and repo")
		return false
	case hasName:
		ch.Source = ChartRepo
		ch.Name = p.chartName(f["name"].Val)
		ch.Repo, _ = p.checkURL(f["repo"].Val, "chart repo", "http", "https", "file")
		ch.Repo = trimSlash(ch.Repo)
	case hasOCI:
		ch.Source = ChartOCI
		ch.OCI = p.ociChart(f["oci"].Val)
	default:
		ch.Source = ChartLocal
		ch.Path, _ = p.relPath(f["path"].Val, "chart path")
	}
	v, hasVersion := f["version"]
	switch {
	case ch.Source == ChartLocal && hasVersion:
		p.Errorf(v.Key, "remove version; a local chart's version is read from its Chart.yaml", "a local chart cannot pin a version")
		return false
	case ch.Source != ChartLocal && !hasVersion:
		p.Errorf(n, "add version: (an exact version or a constraint such as \"45.x\")", "a remote chart needs a version")
		return false
	case hasVersion:
		ch.Version, _ = p.Str(v.Val, "chart version")
	}
	return ch.Name != "" || ch.Repo != "" || ch.OCI != "" || ch.Path != ""
}

func (p *parser) chartName(n *yaml.Node) string {
	s, ok := p.Str(n, "chart name")
	if ok && !chartNameRE.MatchString(s) {
		p.Errorf(n, "chart names are lower-case letters, digits, '.', '_' and '-'", "chart name %q is not valid", s)
		return ""
	}
	return s
}

// ociChart checks oci://host[:port]/path/name.
func (p *parser) ociChart(n *yaml.Node) string {
	s, ok := p.Str(n, "chart oci")
	if !ok {
		return ""
	}
	rest, found := strings.CutPrefix(s, "oci://")
	host, path, _ := strings.Cut(rest, "/")
	msg, fix := "", ""
	switch {
	case !found:
		msg, fix = "does not start with oci://", "write oci://host[:port]/path/chart"
	case strings.ContainsAny(rest, "@:") && strings.Contains(path, ":"):
		msg, fix = "has a tag", "put the version in version:, not in the reference"
	default:
		if msg, fix = registryHostProblem(host); msg == "" && path == "" {
			msg, fix = "has no repository path", "write oci://host[:port]/path/chart"
		} else if msg == "" {
			msg, fix = ref.RepositoryProblem(path)
		}
	}
	if msg != "" {
		p.Errorf(n, fix, "chart oci %q %s", s, strings.TrimPrefix(msg, "registry "))
		return ""
	}
	return s
}

func (p *parser) label(n *yaml.Node, what string) string {
	s, ok := p.Str(n, what)
	if ok && !dnsLabelRE.MatchString(s) {
		p.Errorf(n, "use lower-case letters, digits and '-' (at most 63)", "%s %q is not valid", what, s)
		return ""
	}
	return s
}
