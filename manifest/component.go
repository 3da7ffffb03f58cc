package manifest

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var componentFields = []string{"name", "roles", "images", "files", "rpms", "rpmFiles", "charts",
	"values", "manifests", "allowMissingImages", "podNetwork"}

// Roles are the host roles of a site inventory that a component's RPMs can
// be installed on.
var Roles = []string{"master", "worker", "registry"}

func (p *parser) component(n *yaml.Node) {
	f := p.Fields(n, "a component", componentFields...)
	if f == nil {
		return
	}
	if !p.Required(f, n, "component", "name") {
		return
	}
	name, ok := p.Str(f["name"].Val, "component name")
	if !ok {
		return
	}
	if !dnsLabelRE.MatchString(name) {
		p.Errorf(f["name"].Val, "use lower-case letters, digits and '-' (at most 63)", "component name %q is not valid", name)
	}
	c := Component{Name: name, Pos: p.Pos(n)}
	if prev, dup := p.seen("component\x00"+name, c.Pos); dup {
		p.Errorf(f["name"].Val, "give each component its own name, or merge them", "component %q is defined twice (first at %s)", name, prev)
	}
	if v, ok := f["roles"]; ok {
		p.roles(&c, v.Val)
	}
	if v, ok := f["images"]; ok {
		p.Seq(v.Val, "images", func(item *yaml.Node) { p.imageEntry(&c, item) })
	}
	if v, ok := f["files"]; ok {
		p.Seq(v.Val, "files", func(item *yaml.Node) { p.fileEntry(&c, item) })
	}
	if v, ok := f["rpms"]; ok {
		p.rpms(&c, v.Val)
	}
	if v, ok := f["rpmFiles"]; ok {
		for _, r := range p.paths(v.Val, "rpmFiles") {
			if !strings.HasSuffix(r.Path, ".rpm") {
				p.Errs.Add(r.Pos, "name an .rpm file", "rpmFiles entry %q is not an .rpm file", r.Path)
				continue
			}
			c.RPMFiles = append(c.RPMFiles, r)
		}
	}
	if v, ok := f["charts"]; ok {
		p.Seq(v.Val, "charts", func(item *yaml.Node) { p.chart(&c, item) })
	}
	if v, ok := f["values"]; ok {
		c.Values = p.paths(v.Val, "values")
	}
	if v, ok := f["manifests"]; ok {
		c.Manifests = p.paths(v.Val, "manifests")
	}
	if v, ok := f["allowMissingImages"]; ok {
		p.allowMissing(&c, v.Val)
	}
	if v, ok := f["podNetwork"]; ok {
		c.PodNetwork, _ = p.Bool(v.Val, "podNetwork")
		if c.PodNetwork && len(c.Manifests) == 0 && len(c.Charts) == 0 {
			p.Errorf(v.Key, "give the component the CNI's manifests: or charts:", "component %q is the pod network but installs nothing", name)
		}
		for _, o := range p.s.Spec.Components {
			if c.PodNetwork && o.PodNetwork {
				p.Errorf(v.Key, "keep podNetwork: true on one component", "components %q and %q are both the pod network", o.Name, name)
			}
		}
	}
	p.s.Spec.Components = append(p.s.Spec.Components, c)
}

// paths reads a list of manifest-relative paths: each a string, or
// {path: P, template: true} for a file rendered at deploy time with the
// site's data (template.Data, package manifest/template).
func (p *parser) paths(n *yaml.Node, what string) []PathRef {
	var out []PathRef
	p.Seq(n, what, func(item *yaml.Node) {
		ref := PathRef{Pos: p.Pos(item)}
		src := item
		if item.Kind == yaml.MappingNode {
			f := p.Fields(item, "a "+what+" entry", "path", "template")
			if f == nil || !p.Required(f, item, what+" entry", "path") {
				return
			}
			src = f["path"].Val
			if v, has := f["template"]; has {
				ref.Template, _ = p.Bool(v.Val, what+" template")
			}
		}
		if s, ok := p.relPath(src, what+" entry"); ok {
			ref.Path = s
			out = append(out, ref)
		}
	})
	return out
}

var rpmSpecRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+~^:-]*$`)

func (p *parser) rpms(c *Component, n *yaml.Node) {
	for _, r := range p.Strings(n, "rpms") {
		if !rpmSpecRE.MatchString(r.Val) {
			p.Errs.Add(r.Pos, "write a package name or name-version[-release], without globs or spaces", "rpm %q is not a valid package name", r.Val)
			continue
		}
		if prev, dup := p.seen("rpm\x00"+c.Name+"\x00"+r.Val, r.Pos); dup {
			p.Errs.Add(r.Pos, "remove the repeat", "rpm %q is listed twice in component %q (first at %s)", r.Val, c.Name, prev)
			continue
		}
		c.RPMs = append(c.RPMs, RPM{Spec: r.Val, Component: c.Name, Pos: r.Pos})
	}
}

func (p *parser) roles(c *Component, n *yaml.Node) {
	for _, r := range p.Strings(n, "roles") {
		if !slices.Contains(Roles, r.Val) {
			p.Errs.Add(r.Pos, "use one of "+strings.Join(Roles, ", "), "role %q is not a host role", r.Val)
			continue
		}
		if slices.Contains(c.Roles, r.Val) {
			p.Errs.Add(r.Pos, "remove the repeat", "role %q is listed twice in component %q", r.Val, c.Name)
			continue
		}
		c.Roles = append(c.Roles, r.Val)
	}
}

func (p *parser) allowMissing(c *Component, n *yaml.Node) {
	for _, r := range p.Strings(n, "allowMissingImages") {
		canon, err := CanonicalName(r.Val)
		if err != nil {
			p.refError(r.Pos, err)
			continue
		}
		c.AllowMissingImages = append(c.AllowMissingImages, AllowedImage{Ref: r.Val, Canonical: canon, Pos: r.Pos})
	}
}

func (p *parser) fileEntry(c *Component, n *yaml.Node) {
	fl := File{Component: c.Name, Pos: p.Pos(n)}
	if n.Kind == yaml.ScalarNode {
		fl.Path, _ = p.relPath(n, "file path")
		if fl.Path != "" {
			p.addFile(c, fl)
		}
		return
	}
	f := p.Fields(n, "a file entry", "path", "url", "sha256", "template", "verify")
	if f == nil {
		return
	}
	_, hasPath := f["path"]
	_, hasURL := f["url"]
	if hasPath == hasURL {
		p.Errorf(n, "give either path: (a local file) or url: (a remote file)", "a file entry needs exactly one of path and url")
		return
	}
	ok := true
	if hasPath {
		fl.Path, ok = p.relPath(f["path"].Val, "file path")
	} else {
		fl.URL, ok = p.checkURL(f["url"].Val, "file url", "http", "https")
	}
	if v, has := f["sha256"]; has {
		fl.SHA256 = p.sha256(v.Val)
		ok = ok && fl.SHA256 != ""
	}
	if v, has := f["template"]; has {
		fl.Template, _ = p.Bool(v.Val, "file template")
		if fl.Template && hasURL {
			p.Errorf(v.Key, "keep templates as local files", "a URL file cannot be a template")
			ok = false
		}
	}
	if v, has := f["verify"]; has {
		if hasPath {
			p.Errorf(v.Key, "remove verify:; a local file is part of the manifest's tree (pin it with sha256: if you like)", "verify is for URL files, and %s is a local file", fl.Path)
			ok = false
		} else if fl.Verify = p.fileVerify(v.Val, fl.URL); fl.Verify == nil {
			ok = false
		}
	}
	if ok {
		p.addFile(c, fl)
	}
}

// fileVerify reads a URL file's verify: {gpgkey, signature, fingerprint}.
// The key must be a path: a key fetched from the network beside the file
// would prove nothing about it.
func (p *parser) fileVerify(n *yaml.Node, fileURL string) *FileVerify {
	f := p.Fields(n, "file verify", "gpgkey", "signature", "fingerprint")
	if f == nil || !p.Required(f, n, "file verify", "gpgkey") {
		return nil
	}
	v := &FileVerify{Pos: p.Pos(n), Signature: defaultSignatureURL(fileURL)}
	key := f["gpgkey"].Val
	k, ok := p.Str(key, "verify.gpgkey")
	if ok && IsURL(k) {
		p.Errorf(key, "ship the signer's public key with the manifest (gpg --armor --export KEYID > keys/NAME.asc) and give its path", "verify.gpgkey %q is a URL; a key fetched beside the file proves nothing about it", k)
		ok = false
	} else if ok {
		v.Key, ok = p.relPath(key, "verify.gpgkey")
	}
	if s, has := f["signature"]; has {
		sig, sigOK := p.checkURL(s.Val, "verify.signature", "http", "https")
		v.Signature, ok = sig, ok && sigOK
	}
	if fp, has := f["fingerprint"]; has {
		v.Fingerprint = p.fingerprint(fp.Val)
		ok = ok && v.Fingerprint != ""
	}
	if !ok {
		return nil
	}
	return v
}

// defaultSignatureURL is where upstreams publish a file's detached
// signature: the file's URL with ".asc" appended to its path.
func defaultSignatureURL(fileURL string) string {
	u, err := url.Parse(fileURL)
	if err != nil || u.RawQuery == "" && u.Fragment == "" {
		return fileURL + ".asc"
	}
	u.Path, u.RawPath = u.Path+".asc", ""
	return u.String()
}

var fingerprintRE = regexp.MustCompile(`^([0-9A-F]{40}|[0-9A-F]{64})$`)

// fingerprint reads an OpenPGP key fingerprint as gpg prints it (spaces
// allowed, any case) and returns it upper-case without spaces, or "".
func (p *parser) fingerprint(n *yaml.Node) string {
	s, ok := p.Str(n, "verify.fingerprint")
	if !ok {
		return ""
	}
	fp := strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if !fingerprintRE.MatchString(fp) {
		p.Errorf(n, "copy the 40 hex digits of the key's fingerprint, as `gpg --fingerprint KEYID` prints them", "verify.fingerprint %q is not an OpenPGP fingerprint", s)
		return ""
	}
	return fp
}

func (p *parser) addFile(c *Component, fl File) {
	if fl.Name() == "" {
		p.Errs.Add(fl.Pos, "point the URL at a file, e.g. https://host/dir/tool.tar.gz", "file %s has no file name in its path", fl.URL)
		return
	}
	if prev, dup := p.seen("file\x00"+c.Name+"\x00"+fl.Name(), fl.Pos); dup {
		p.Errs.Add(fl.Pos, "rename one of them; files of a component share one directory in the bundle",
			"file name %q is used twice in component %q (first at %s)", fl.Name(), c.Name, prev)
		return
	}
	c.Files = append(c.Files, fl)
}

// sha256 reads a hex sha256, optionally prefixed "sha256:", and returns the
// lower-case hex, or "" after an error.
func (p *parser) sha256(n *yaml.Node) string {
	s, ok := p.Str(n, "sha256")
	if !ok {
		return ""
	}
	hexs := strings.TrimPrefix(s, "sha256:")
	if !sha256HexRE.MatchString(strings.ToLower(hexs)) {
		p.Errorf(n, "write the 64 hex digits that sha256sum prints", "sha256 %q is not 64 hex digits", s)
		return ""
	}
	return strings.ToLower(hexs)
}
