package manifest

import (
	"bytes"
	"errors"
	"slices"

	"gopkg.in/yaml.v3"
)

// Images returns every image of the stack, in manifest order, each once.
// (A reference listed twice, even written differently, is a parse error.)
func (s *Stack) Images() []ImageRef {
	return collect(s, func(c *Component) []ImageRef { return c.Images })
}

// Files returns every file of every component, in manifest order.
func (s *Stack) Files() []File {
	return collect(s, func(c *Component) []File { return c.Files })
}

// Charts returns every chart of every component, in manifest order.
func (s *Stack) Charts() []Chart {
	return collect(s, func(c *Component) []Chart { return c.Charts })
}

// RPMs returns every requested package of every component, in manifest order.
func (s *Stack) RPMs() []RPM {
	return collect(s, func(c *Component) []RPM { return c.RPMs })
}

// AllowedMissingImages returns the allowMissingImages entries of every
// component.
func (s *Stack) AllowedMissingImages() []AllowedImage {
	return collect(s, func(c *Component) []AllowedImage { return c.AllowMissingImages })
}

// collect concatenates one list of every component into a new slice.
func collect[T any](s *Stack, pick func(*Component) []T) []T {
	var out []T
	for i := range s.Spec.Components {
		out = append(out, pick(&s.Spec.Components[i])...)
	}
	return out
}

// Component returns the component with the given name.
func (s *Stack) Component(name string) (*Component, bool) {
	for i := range s.Spec.Components {
		if s.Spec.Components[i].Name == name {
			return &s.Spec.Components[i], true
		}
	}
	return nil, false
}

// MirrorFor returns the mirror the manifest names for the registry of a
// canonical reference.
func (s *Stack) MirrorFor(canonicalRef string) (mirror string, ok bool) {
	return s.Spec.RegistryMirrors.MirrorFor(canonicalRef)
}

// imageEntry reads one entry of a component's images: a reference string,
// {ref, verify} or {list, verify}.
func (p *parser) imageEntry(c *Component, n *yaml.Node) {
	src := ImageSource{Pos: p.Pos(n)}
	refNode := n
	if n.Kind == yaml.MappingNode {
		f := p.Fields(n, "an image entry", "ref", "list", "verify")
		if f == nil {
			return
		}
		r, hasRef := f["ref"]
		l, hasList := f["list"]
		if hasRef == hasList {
			p.Errorf(n, "write {ref: IMAGE} or {list: FILE}", "an image entry needs exactly one of ref and list")
			return
		}
		if v, ok := f["verify"]; ok {
			if src.VerifyKey = p.imageVerify(v.Val); src.VerifyKey == "" {
				return
			}
		}
		if hasList {
			if src.List, _ = p.relPath(l.Val, "image list"); src.List != "" {
				c.ImageSources = append(c.ImageSources, src)
				p.expandList(c, src)
			}
			return
		}
		refNode = r.Val
	}
	ref, ok := p.Str(refNode, "image reference")
	if !ok {
		return
	}
	img, err := ParseImageRef(ref)
	if err != nil {
		p.refError(p.Pos(refNode), err)
		return
	}
	src.Ref = ref
	c.ImageSources = append(c.ImageSources, src)
	img.Component, img.Source, img.VerifyKey = c.Name, p.Pos(refNode), src.VerifyKey
	c.Images = append(c.Images, img)
}

func (p *parser) imageVerify(n *yaml.Node) string {
	f := p.Fields(n, "image verify", "key")
	if f == nil || !p.Required(f, n, "image verify", "key") {
		return ""
	}
	key, _ := p.relPath(f["key"].Val, "verify.key")
	return key
}

func (p *parser) refError(pos Pos, err error) {
	var re *RefError
	if errors.As(err, &re) {
		p.Errs.Add(pos, re.Fix, "bad image reference %q: %s", re.Ref, re.Reason)
		return
	}
	p.Errs.Add(pos, "", "%v", err)
}

// expandList reads an image list file and adds its images to c, each with
// the list file's name and line as its Source.
//
// A list is read once however often the manifest names it: naming it
// again is one error, at the second name, not one per image it holds.
func (p *parser) expandList(c *Component, src ImageSource) {
	listFile := p.s.Display(src.List)
	if first, dup := p.seen("image list\x00"+src.List, src.Pos); dup {
		p.Errs.Add(src.Pos, "name each list once; its images are carried once, in one component",
			"image list %s is already named at %s", listFile, first)
		return
	}
	data, err := ReadFile(p.s.FS, src.List)
	if err != nil {
		p.Errs.Add(src.Pos, "create the file or fix the path (relative to the manifest)", "image list %s: %v", listFile, err)
		return
	}
	listed, err := ParseImageList(bytes.NewReader(data))
	var le *ListError
	if errors.As(err, &le) {
		p.Errs.Add(Pos{File: listFile, Line: le.Line}, "", "%s", le.Msg)
	}
	c.Images = slices.Grow(c.Images, len(listed))
	for _, li := range listed {
		pos := Pos{File: listFile, Line: li.Line}
		img, err := ParseImageRef(li.Ref)
		if err != nil {
			p.refError(pos, err)
			continue
		}
		img.Component, img.Source, img.List, img.Section, img.VerifyKey = c.Name, pos, src.List, li.Section, src.VerifyKey
		c.Images = append(c.Images, img)
	}
}

// resolveVerifyKeys gives every image without its own key the key of its
// registry's verify rule.
func (p *parser) resolveVerifyKeys() {
	keys := make(map[string]string, len(p.s.Spec.Verify))
	for _, rule := range p.s.Spec.Verify {
		keys[rule.Registry] = rule.Key
	}
	for ci := range p.s.Spec.Components {
		imgs := p.s.Spec.Components[ci].Images
		for i := range imgs {
			if imgs[i].VerifyKey == "" {
				imgs[i].VerifyKey = keys[imgs[i].Registry]
			}
		}
	}
}

// checkDuplicateImages refuses an image listed twice anywhere in the stack,
// compared by canonical name, and says where the first one is.
func (p *parser) checkDuplicateImages() {
	first := map[string]*ImageRef{}
	for ci := range p.s.Spec.Components {
		imgs := p.s.Spec.Components[ci].Images
		for i := range imgs {
			img := &imgs[i]
			if prev, dup := first[img.Canonical]; dup {
				p.Errs.Add(img.Source, "remove one of them; an image is carried once, in one component",
					"image %s is listed twice: first as %q at %s (component %q)", img.Canonical, prev.Ref, prev.Source, prev.Component)
				continue
			}
			first[img.Canonical] = img
		}
	}
}
