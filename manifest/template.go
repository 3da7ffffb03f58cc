package manifest

import (
	"strings"
	"text/template"
)

// NewTemplate returns an empty template for a stack's template files, with
// the functions they may use (TemplateFuncs) and strict missing keys: a key
// absent from the data is an error, never "<no value>". Lint parses every
// template file with it, and deploy renders with it, so a template that
// lints is one deploy can execute.
func NewTemplate(name string) *template.Template {
	return template.New(name).Option("missingkey=error").Funcs(TemplateFuncs())
}

// TemplateFuncs returns the functions available to template files besides
// text/template's built-ins:
//
//	join SEP LIST     strings.Join
//	quote S           S in double quotes, with " and \ escaped
//	indent N S        S with every line indented by N spaces
//	lower S, upper S  case conversion
//	trim S            strings.TrimSpace
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"join":  func(sep string, items []string) string { return strings.Join(items, sep) },
		"quote": quote,
		"indent": func(n int, s string) string {
			pad := strings.Repeat(" ", max(n, 0))
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"trim":  strings.TrimSpace,
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
