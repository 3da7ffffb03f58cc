package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, defaults and validates the inventory at path. It returns a
// *ValidationError listing every problem (unknown fields, malformed values,
// and inconsistencies between fields), each with file:line and the fix.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for bytes already read; name is used in messages and to
// resolve relative paths.
func Parse(name string, data []byte) (*Inventory, error) {
	d := &decoder{file: name, lines: map[string]int{}}
	inv, err := d.decode(data)
	if err != nil {
		return nil, err
	}
	if len(d.problems) == 0 {
		inv.Path = name
		inv.applyDefaults(filepath.Dir(name))
		v := &validator{decoder: d, inv: inv}
		v.validate()
		inv.Warnings = v.warnings
	}
	if len(d.problems) > 0 {
		return nil, &ValidationError{File: name, Problems: d.problems}
	}
	return inv, nil
}

// decoder turns YAML into an Inventory, recording the line of every field
// so later checks can point at it.
type decoder struct {
	file     string
	lines    map[string]int // field path -> line
	problems []Problem
}

func (d *decoder) add(field, fix, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: d.line(field), Field: field,
		Message: fmt.Sprintf(format, args...), Fix: fix})
}

// line returns the line of field, or of its closest recorded parent.
func (d *decoder) line(field string) int {
	for f := field; f != ""; f = parentPath(f) {
		if l, ok := d.lines[f]; ok {
			return l
		}
	}
	return d.lines[""]
}

func parentPath(f string) string {
	i := strings.LastIndexAny(f, ".[")
	if i < 0 {
		return ""
	}
	return f[:i]
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

func (d *decoder) decode(data []byte) (*Inventory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.yamlProblems(err, "fix the YAML syntax")
		return nil, &ValidationError{File: d.file, Problems: d.problems}
	}
	if len(doc.Content) == 0 {
		d.add("", "start from an example: deploy inventory --example > inventory.yaml", "the inventory is empty")
		return nil, &ValidationError{File: d.file, Problems: d.problems}
	}
	root := doc.Content[0]
	d.lines[""] = root.Line
	d.walk(root, "", reflect.TypeOf(Inventory{}))
	inv := &Inventory{}
	if err := root.Decode(inv); err != nil {
		d.yamlProblems(err, "write a value of the type the field takes")
	}
	return inv, nil
}

// yamlProblems turns a yaml.v3 error (one or several "line N: ..." messages)
// into problems.
func (d *decoder) yamlProblems(err error, fix string) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		p := Problem{File: d.file, Message: m, Fix: fix}
		if loc := yamlLine.FindStringSubmatchIndex(m); loc != nil {
			p.Line, _ = strconv.Atoi(m[loc[2]:loc[3]])
			p.Message = m[:loc[0]] + m[loc[1]:]
			p.Field = d.fieldAt(p.Line)
		}
		if strings.Contains(m, "already defined") {
			p.Fix = "keep one of the two"
		}
		d.problems = append(d.problems, p)
	}
}

// fieldAt returns the deepest field that starts on line, or "".
func (d *decoder) fieldAt(line int) string {
	best := ""
	for f, l := range d.lines {
		if l == line && f != "" && (len(f) > len(best) || len(f) == len(best) && f < best) {
			best = f
		}
	}
	return best
}

// walk records the line of every field under n and reports fields that t
// does not have.
func (d *decoder) walk(n *yaml.Node, path string, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			child := joinPath(path, key.Value)
			d.lines[child] = key.Line
			ft, ok := fields[key.Value]
			if !ok {
				d.unknownField(child, key.Value, fields)
				continue
			}
			d.walk(val, child, ft)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, el := range n.Content {
			child := fmt.Sprintf("%s[%d]", path, i)
			d.lines[child] = el.Line
			d.walk(el, child, t.Elem())
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) unknownField(field, key string, fields map[string]reflect.Type) {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	fix := "remove it; known fields here: " + strings.Join(names, ", ")
	if near := closest(key, names); near != "" {
		fix = fmt.Sprintf("did you mean %q? known fields here: %s", near, strings.Join(names, ", "))
	}
	d.add(field, fix, "unknown field %q", key)
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// closest returns the name within edit distance 2 of key (case-insensitive),
// if any.
func closest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
