package decode

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoder walks a yaml.Node tree and collects positioned errors, so that one
// pass reports every problem. Its methods never panic on any node shape.
type Decoder struct {
	File string // named in every Pos
	Errs Errors
}

// Field is one key of a mapping and its value.
type Field struct {
	Key, Val *yaml.Node
}

// Pos is where n is written.
func (d *Decoder) Pos(n *yaml.Node) Pos {
	return Pos{File: d.File, Line: n.Line, Column: n.Column}
}

// Errorf records a problem at n, with its fix.
func (d *Decoder) Errorf(n *yaml.Node, fix, format string, args ...any) {
	d.Errs.Add(d.Pos(n), fix, format, args...)
}

// kindName names a node's type as a user would: mapping, list, string...
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an unexpected node"
}

// Fields checks that n is a mapping whose keys are all in allowed and unique,
// and returns its fields by key. It returns nil (after recording an error)
// when n is not a mapping.
func (d *Decoder) Fields(n *yaml.Node, what string, allowed ...string) map[string]Field {
	if n.Kind != yaml.MappingNode {
		d.TypeError(n, what, "a mapping")
		return nil
	}
	out := make(map[string]Field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, "use a plain string key", "%s has a key that is %s", what, kindName(k))
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			d.Errorf(k, unknownFix(k.Value, allowed), "unknown field %q in %s", k.Value, what)
			continue
		}
		if first, dup := out[k.Value]; dup {
			d.Errorf(k, "remove one of them", "field %q appears twice in %s (first at line %d)", k.Value, what, first.Key.Line)
			continue
		}
		out[k.Value] = Field{Key: k, Val: v}
	}
	return out
}

// unknownFix suggests the closest allowed field name.
func unknownFix(got string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		if strings.EqualFold(a, got) {
			return fmt.Sprintf("did you mean %q? (field names are case-sensitive)", a)
		}
		if dist := editDistance(a, got); dist < bestDist {
			best, bestDist = a, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "valid fields are " + strings.Join(allowed, ", ")
}

// editDistance is the Levenshtein distance, used only for suggestions on
// short field names.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TypeError records that n is not the kind of node what must be (want).
func (d *Decoder) TypeError(n *yaml.Node, what, want string) {
	d.Errorf(n, "write "+want+" there", "%s must be %s, not %s", what, want, kindName(n))
}

// Str returns a scalar's text exactly as written. Numbers are accepted as
// text (so version: 1.10 stays "1.10"); booleans, null, lists and mappings
// are type errors. ok is false after an error.
func (d *Decoder) Str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.TypeError(n, what, "a string")
		return "", false
	}
	switch n.ShortTag() {
	case "!!null":
		d.Errorf(n, "give it a value or remove the field", "%s is empty", what)
		return "", false
	case "!!bool":
		d.Errorf(n, fmt.Sprintf("quote it (\"%s\") if you mean the text", n.Value), "%s must be a string, not a boolean", what)
		return "", false
	case "!!str", "!!int", "!!float":
	default:
		d.TypeError(n, what, "a string")
		return "", false
	}
	if n.Value == "" {
		d.Errorf(n, "give it a value or remove the field", "%s is empty", what)
		return "", false
	}
	return n.Value, true
}

// Bool returns a scalar boolean (true/false).
func (d *Decoder) Bool(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.TypeError(n, what, "true or false")
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.TypeError(n, what, "true or false")
		return false, false
	}
	return v, true
}

// Seq calls each for every item of a list. A null value is an empty list.
func (d *Decoder) Seq(n *yaml.Node, what string, each func(item *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.TypeError(n, what, "a list")
		return
	}
	for _, item := range n.Content {
		each(item)
	}
}

// StrAt is a string value with the place it was written.
type StrAt struct {
	Val string
	Pos Pos
}

// Strings reads a list of strings; it also accepts one string in place of a
// one-item list.
func (d *Decoder) Strings(n *yaml.Node, what string) []StrAt {
	if n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		if v, ok := d.Str(n, what); ok {
			return []StrAt{{v, d.Pos(n)}}
		}
		return nil
	}
	var out []StrAt
	d.Seq(n, what, func(item *yaml.Node) {
		if v, ok := d.Str(item, what+" item"); ok {
			out = append(out, StrAt{v, d.Pos(item)})
		}
	})
	return out
}

// Required records an error when a required field is absent.
func (d *Decoder) Required(f map[string]Field, parent *yaml.Node, what string, names ...string) bool {
	ok := true
	for _, name := range names {
		if _, has := f[name]; !has {
			d.Errorf(parent, "add "+name+": ...", "%s is missing required field %q", what, name)
			ok = false
		}
	}
	return ok
}

// NoAliases reports every anchor, alias and merge key. They are refused so
// that every value has one place in the file (file:line stays meaningful)
// and so that a small hostile file cannot expand into a huge tree.
func (d *Decoder) NoAliases(n *yaml.Node) bool {
	ok := true
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if depth > 100 {
			if ok {
				d.Errorf(n, "flatten the document", "nesting deeper than 100 levels")
			}
			ok = false
			return
		}
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			d.Errorf(n, "write the value out in full", "YAML anchors and aliases are not supported")
			ok = false
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].ShortTag() == "!!merge" {
					d.Errorf(n.Content[i], "write the fields out in full", "YAML merge keys (<<) are not supported")
					ok = false
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return ok
}
