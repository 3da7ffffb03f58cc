package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/manifest/decode"

	"github.com/factory-appliance/appliance/internal/ref"
)

var specFields = []string{"platform", "allPlatforms", "registryMirrors", "insecureRegistries", "verify",
	"rpmRepos", "rpmBase", "components"}

func (p *parser) spec(n *yaml.Node) {
	f := p.Fields(n, "spec", specFields...)
	if f == nil {
		return
	}
	sp := &p.s.Spec
	sp.Platform = Platform{OS: "linux", Architecture: "amd64"}
	if v, ok := f["platform"]; ok {
		p.platform(v.Val)
	}
	if v, ok := f["allPlatforms"]; ok {
		if b, ok := p.Bool(v.Val, "spec.allPlatforms"); ok {
			sp.AllPlatforms = b
		}
	}
	if v, ok := f["registryMirrors"]; ok {
		p.mirrors(v.Val)
	}
	if v, ok := f["insecureRegistries"]; ok {
		p.insecureRegistries(v.Val)
	}
	if v, ok := f["verify"]; ok {
		p.Seq(v.Val, "spec.verify", p.verifyRule)
	}
	if v, ok := f["rpmRepos"]; ok {
		p.Seq(v.Val, "spec.rpmRepos", p.rpmRepo)
	}
	if v, ok := f["rpmBase"]; ok {
		sp.RPMBase, _ = p.relPath(v.Val, "spec.rpmBase")
		sp.RPMBasePos = p.Pos(v.Val)
	}
	if !p.Required(f, n, "spec", "components") {
		return
	}
	comps := f["components"].Val
	p.Seq(comps, "spec.components", p.component)
	if comps.Kind == yaml.SequenceNode && len(comps.Content) == 0 || comps.ShortTag() == "!!null" {
		p.Errorf(comps, "add at least one component with images, files, rpms or charts", "spec.components is empty")
	}
}

var platformVariants = map[string][]string{
	"amd64": {"", "v1", "v2", "v3", "v4"}, "arm64": {"", "v8"}, "arm": {"v5", "v6", "v7", "v8"},
	"386": {""}, "ppc64le": {""}, "s390x": {""}, "riscv64": {""}, "mips64le": {""}, "loong64": {""},
}

func (p *parser) platform(n *yaml.Node) {
	s, ok := p.Str(n, "spec.platform")
	if !ok {
		return
	}
	parts := strings.Split(s, "/")
	bad := func(msg string) {
		p.Errorf(n, "write os/arch[/variant], e.g. linux/amd64 or linux/arm64", "spec.platform %q: %s", s, msg)
	}
	if len(parts) < 2 || len(parts) > 3 {
		bad("want os/arch[/variant]")
		return
	}
	if parts[0] != "linux" {
		bad(fmt.Sprintf("os %q is not supported (only linux)", parts[0]))
		return
	}
	variants, known := platformVariants[parts[1]]
	if !known {
		bad(fmt.Sprintf("unknown architecture %q", parts[1]))
		return
	}
	variant := ""
	if len(parts) == 3 {
		variant = parts[2]
	}
	if !slices.Contains(variants, variant) {
		bad(fmt.Sprintf("variant %q is not valid for %s", variant, parts[1]))
		return
	}
	p.s.Spec.Platform = Platform{OS: parts[0], Architecture: parts[1], Variant: variant}
}

func (p *parser) mirrors(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.TypeError(n, "spec.registryMirrors", "a mapping of registry: mirror")
		return
	}
	m := Mirrors{}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		reg, ok1 := p.Str(k, "spec.registryMirrors key")
		mirror, ok2 := p.Str(v, "spec.registryMirrors."+reg)
		if !ok1 || !ok2 {
			continue
		}
		if msg, fix := registryHostProblem(reg); msg != "" {
			p.Errorf(k, fix, "spec.registryMirrors: %s", msg)
			continue
		}
		if msg, fix := mirrorProblem(mirror); msg != "" {
			p.Errorf(v, fix, "spec.registryMirrors.%s: %s", reg, msg)
			continue
		}
		reg = ref.NormalizeRegistry(reg)
		if line, dup := first[reg]; dup {
			p.Errorf(k, "keep one mirror per registry", "registry %s has a second mirror (first at line %d)", reg, line)
			continue
		}
		first[reg] = k.Line
		m[reg] = mirror
	}
	p.s.Spec.RegistryMirrors = m
}

func (p *parser) insecureRegistries(n *yaml.Node) {
	seen := map[string]bool{}
	for _, r := range p.Strings(n, "spec.insecureRegistries") {
		if msg, fix := registryHostProblem(r.Val); msg != "" {
			p.Errs.Add(r.Pos, fix, "spec.insecureRegistries: %s", msg)
			continue
		}
		if seen[r.Val] {
			p.Errs.Add(r.Pos, "remove the repeat", "insecure registry %s is listed twice", r.Val)
			continue
		}
		seen[r.Val] = true
		p.s.Spec.InsecureRegistries = append(p.s.Spec.InsecureRegistries, r.Val)
	}
}

func (p *parser) verifyRule(n *yaml.Node) {
	f := p.Fields(n, "a verify rule", "registry", "key")
	if f == nil || !p.Required(f, n, "verify rule", "registry", "key") {
		return
	}
	reg, ok1 := p.Str(f["registry"].Val, "verify.registry")
	key, ok2 := p.relPath(f["key"].Val, "verify.key")
	if !ok1 || !ok2 {
		return
	}
	if msg, fix := registryHostProblem(reg); msg != "" {
		p.Errorf(f["registry"].Val, fix, "verify.registry: %s", msg)
		return
	}
	reg = ref.NormalizeRegistry(reg)
	if prev, dup := p.seen("verify\x00"+reg, p.Pos(n)); dup {
		p.Errorf(n, "keep one key per registry", "registry %s has a second verify rule (first at %s)", reg, prev)
		return
	}
	p.s.Spec.Verify = append(p.s.Spec.Verify, VerifyRule{Registry: reg, Key: key, Pos: p.Pos(n)})
}

var repoIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (p *parser) rpmRepo(n *yaml.Node) {
	f := p.Fields(n, "an rpm repo", "id", "baseurl", "gpgkey", "gpgcheck")
	if f == nil {
		return
	}
	p.Required(f, n, "rpm repo", "id", "baseurl")
	r := RPMRepo{GPGCheck: true, Pos: p.Pos(n)}
	if v, ok := f["id"]; ok {
		if id, ok := p.Str(v.Val, "rpmRepos.id"); ok {
			if !repoIDRE.MatchString(id) {
				p.Errorf(v.Val, "use letters, digits, '.', '_' and '-'", "rpm repo id %q is not valid", id)
			}
			if prev, dup := p.seen("repo\x00"+id, r.Pos); dup {
				p.Errorf(v.Val, "give each repo its own id", "rpm repo id %q is used twice (first at %s)", id, prev)
			}
			r.ID = id
		}
	}
	if v, ok := f["baseurl"]; ok {
		r.BaseURL, _ = p.checkURL(v.Val, "rpm repo baseurl", "http", "https", "file")
	}
	if v, ok := f["gpgcheck"]; ok {
		if b, ok := p.Bool(v.Val, "rpm repo gpgcheck"); ok {
			r.GPGCheck = b
		}
	}
	if v, ok := f["gpgkey"]; ok {
		for _, k := range p.Strings(v.Val, "rpm repo gpgkey") {
			if key, ok := p.keyLocation(k); ok {
				r.GPGKeys = append(r.GPGKeys, key)
			}
		}
	}
	if r.GPGCheck && len(r.GPGKeys) == 0 && f["gpgkey"].Key == nil {
		p.Errorf(n, "add gpgkey: <file or URL>, or set gpgcheck: false to accept unsigned packages (insecure)",
			"rpm repo %q checks signatures (gpgcheck is on by default) but names no gpgkey", r.ID)
	}
	p.s.Spec.RPMRepos = append(p.s.Spec.RPMRepos, r)
}

// keyLocation checks a key given as a URL or a manifest-relative path.
func (p *parser) keyLocation(k decode.StrAt) (string, bool) {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.Val, Line: k.Pos.Line, Column: k.Pos.Column}
	if IsURL(k.Val) {
		return p.checkURL(n, "gpgkey", "http", "https", "file")
	}
	return p.relPath(n, "gpgkey")
}
