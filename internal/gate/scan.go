// Package gate is the air-gap completeness gate: it finds every container
// image that rendered charts and plain manifests reference, and fails when
// one of them is not in the bundle.
//
// Scan reads Kubernetes objects (multi-document YAML) and reports each
// image with where it is used. Check compares the uses with the images the
// bundle holds (Inventory) and the images allowed to be missing. Images of
// containers, init containers and ephemeral containers of every workload
// are required; "image:" strings elsewhere (custom resources, operators'
// configuration) only warn, because their meaning is the operator's.
//
// References are compared in canonical form (manifest.CanonicalName), so
// "busybox:1.36" and "docker.io/library/busybox:1.36" are the same image.
// The package does not render charts; internal/charts does.
package gate

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Origin says where an image reference was found.
type Origin struct {
	Component string // the stack component of the chart or manifest
	// Source is "chart NAME" or "manifest PATH".
	Source string
	// File is the template inside a chart ("templates/deployment.yaml");
	// empty for a plain manifest, whose Source names the file.
	File string
	Line int // line in the manifest file (plain manifests only), or 0
	// Object is "Kind namespace/name" or "Kind name".
	Object string
	// Field is "container NAME", "initContainer NAME",
	// "ephemeralContainer NAME", or the path of another image field
	// ("spec.image").
	Field string
}

// String reads like: chart factory-app (templates/deployment.yaml,
// Deployment default/app, initContainer init).
func (o Origin) String() string {
	where := o.File
	if o.Line > 0 {
		where = "line " + strconv.Itoa(o.Line)
	}
	s := o.Source + " ("
	if where != "" {
		s += where + ", "
	}
	return s + o.Object + ", " + o.Field + ")"
}

// Use is one reference to an image.
type Use struct {
	Image    string // as written
	Origin   Origin
	Workload bool // a container of a Pod template; false for other image fields
}

// maxDocuments bounds the documents in one file, so hostile input cannot
// keep the gate busy forever.
const maxDocuments = 100000

// Scan reads every YAML document of r and returns the images they use.
// base fills Component, Source and File of every Origin; namespace is the
// namespace of objects that name none (the release's, for a chart).
// Empty documents and documents that are not mappings are skipped; a
// document that is not YAML is an error naming the file.
func Scan(r io.Reader, base Origin, namespace string) ([]Use, error) {
	dec := yaml.NewDecoder(r)
	var uses []Use
	for n := 0; n < maxDocuments; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return uses, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(base), err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		got, err := scanObject(doc.Content[0], base, namespace)
		if err != nil {
			return nil, err
		}
		uses = append(uses, got...)
	}
	return nil, fmt.Errorf("%s: more than %d YAML documents", where(base), maxDocuments)
}

func where(o Origin) string {
	if o.File != "" {
		return o.Source + " " + o.File
	}
	return o.Source
}

// maxVisits bounds the nodes visited in one document, aliases followed,
// so an alias bomb cannot keep the gate busy.
const maxVisits = 1 << 20

// scanObject returns the images of one Kubernetes object.
func scanObject(obj *yaml.Node, base Origin, namespace string) ([]Use, error) {
	kind := scalar(lookup(obj, "kind"))
	meta := lookup(obj, "metadata")
	name, ns := scalar(lookup(meta, "name")), scalar(lookup(meta, "namespace"))
	if ns == "" {
		ns = namespace
	}
	o := base
	o.Object = kind + " " + name
	if ns != "" {
		o.Object = kind + " " + ns + "/" + name
	}
	s := &scanner{origin: o, podSpecs: map[*yaml.Node]bool{}}
	for _, ps := range podSpecs(kind, obj) {
		s.podSpecs[ps] = true
	}
	s.walk(obj, "")
	if s.visits > maxVisits {
		return nil, fmt.Errorf("%s: %s: more than %d YAML nodes (aliases expanded)", where(base), o.Object, maxVisits)
	}
	return s.uses, nil
}

// podSpecs finds the Pod specs of an object: a Pod's spec, a CronJob's
// spec.jobTemplate.spec.template.spec, a PodTemplate's template.spec, and
// spec.template.spec of every other kind (Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job, ReplicationController, and custom workloads
// written the same way).
func podSpecs(kind string, obj *yaml.Node) []*yaml.Node {
	var specs []*yaml.Node
	add := func(n *yaml.Node) {
		if n != nil && n.Kind == yaml.MappingNode {
			specs = append(specs, n)
		}
	}
	spec := lookup(obj, "spec")
	switch kind {
	case "Pod":
		add(spec)
	case "PodTemplate":
		add(lookup(lookup(obj, "template"), "spec"))
	case "CronJob":
		add(lookup(lookup(lookup(lookup(spec, "jobTemplate"), "spec"), "template"), "spec"))
	}
	add(lookup(lookup(spec, "template"), "spec"))
	return specs
}

// containerLists are the fields of a Pod spec that hold containers, and
// how a use of each is named.
var containerLists = []struct{ field, label string }{
	{"containers", "container"},
	{"initContainers", "initContainer"},
	{"ephemeralContainers", "ephemeralContainer"},
}

type scanner struct {
	origin   Origin
	podSpecs map[*yaml.Node]bool
	uses     []Use
	visits   int
}

// walk visits every node; Pod specs yield workload uses, any other
// "image" key with a string value a non-workload use.
func (s *scanner) walk(n *yaml.Node, path string) {
	if n == nil || s.visits > maxVisits {
		return
	}
	s.visits++
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		done := map[*yaml.Node]bool{}
		if s.podSpecs[n] {
			done = s.containers(n)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if done[v] {
				continue
			}
			p := join(path, k.Value)
			if k.Value == "image" && isString(v) {
				s.add(v, Use{Image: v.Value}, p)
				continue
			}
			s.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.walk(c, path+"["+strconv.Itoa(i)+"]")
		}
	}
}

// containers records the images of a Pod spec's containers and returns the
// container lists it handled.
func (s *scanner) containers(spec *yaml.Node) map[*yaml.Node]bool {
	done := map[*yaml.Node]bool{}
	for _, cl := range containerLists {
		list := lookup(spec, cl.field)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		done[list] = true
		for _, c := range list.Content {
			img := lookup(c, "image")
			if !isString(img) || img.Value == "" {
				continue
			}
			s.add(img, Use{Image: img.Value, Workload: true}, cl.label+" "+scalar(lookup(c, "name")))
		}
	}
	return done
}

func (s *scanner) add(n *yaml.Node, u Use, field string) {
	u.Origin = s.origin
	u.Origin.Field = field
	if u.Origin.File == "" {
		u.Origin.Line = n.Line
	}
	s.uses = append(s.uses, u)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func isString(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.ShortTag() == "!!str")
}
