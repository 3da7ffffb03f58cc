package lint

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/factory-appliance/appliance/manifest"
)

// atLine places a problem Check found in a file at a line of that file,
// rather than at the manifest line that names the file.
type atLine struct {
	error
	line int
}

func (e *atLine) Unwrap() error { return e.error }

// templateLine returns the 1-based line of the first "{{" in data outside
// a YAML comment line, or 0.
func templateLine(data []byte) int {
	for n, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] == '#' {
			continue
		}
		if bytes.Contains(line, []byte("{{")) {
			return n + 1
		}
	}
	return 0
}

var (
	yamlErrLine     = regexp.MustCompile(`invalid YAML: line (\d+): `)
	templateErrLine = regexp.MustCompile(`template: [^:\s]+:(\d+)`)
)

// errLine is the line a YAML or text/template error names, or 0.
func errLine(re *regexp.Regexp, err error) int {
	m := re.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// markTemplateFix is the fix for a file that holds {{ }} without being
// marked a template.
func markTemplateFix(what, path string) string {
	key := "values"
	if what == "manifest" {
		key = "manifests"
	}
	return fmt.Sprintf("if it is a template, mark it so in the manifest: %s: [{path: %s, template: true}]", key, path)
}

// unmarked is fn for a values file or manifest not marked template: true.
// A YAML error is placed at its line in the file; when the file holds
// "{{", which only a template would, it is placed at that line instead,
// with the fix of marking the file a template.
func unmarked(what, path string, fn func(io.Reader) error) func(io.Reader) error {
	return func(r io.Reader) error {
		data, err := readAllLimited(r)
		if err != nil {
			return err
		}
		err = fn(bytes.NewReader(data))
		if err == nil {
			return nil
		}
		if n := templateLine(data); n > 0 {
			return &atLine{&fixError{fmt.Sprintf("%v; line %d holds a template expression ({{ }}), which only a template may", err, n),
				markTemplateFix(what, path)}, n}
		}
		if n := errLine(yamlErrLine, err); n > 0 {
			return &atLine{err, n}
		}
		return err
	}
}

// TemplateWarnings lists the values files and manifests that hold "{{"
// without being marked template: true. They lint (the YAML may be valid),
// but deploy hands them to the release or the cluster as written, so a
// template expression in one is likely a missing template: true. Each is
// placed at the line of the first "{{" in the file. Files that cannot be
// read are left to Check.
func TemplateWarnings(s *manifest.Stack) manifest.ErrorList {
	var out manifest.ErrorList
	seen := map[string]bool{}
	check := func(what string, r manifest.PathRef) {
		if r.Template || seen[r.Path] {
			return
		}
		seen[r.Path] = true
		f, err := s.Open(r.Path)
		if err != nil {
			return
		}
		defer f.Close()
		data, err := readAllLimited(f)
		if err != nil {
			return
		}
		if n := templateLine(data); n > 0 {
			fix := markTemplateFix(what, r.Path)
			if what == "values file" {
				fix += "; if the chart renders it itself (Helm's tpl), leave it"
			}
			out = append(out, &manifest.Error{Pos: manifest.Pos{File: s.Display(r.Path), Line: n},
				Msg: fmt.Sprintf("%s %s (named at %s) holds {{ }} but is not marked template: true: deploy passes it on as written, unrendered", what, r.Path, r.Pos),
				Fix: fix})
		}
	}
	for _, c := range s.Spec.Components {
		for _, v := range c.Values {
			check("values file", v)
		}
		for _, m := range c.Manifests {
			check("manifest", m)
		}
		for _, ch := range c.Charts {
			for _, v := range ch.Values {
				check("values file", v)
			}
		}
	}
	return out
}
