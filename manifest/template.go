package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
)

// NewTemplate returns an empty template for a stack's template files, with
// the functions they may use (TemplateFuncs) and strict missing keys: a key
// absent from the data is an error, never "<no value>". Lint parses every
// template file with it (CheckTemplate), and Render executes with the same
// functions, so a template that lints is one deploy can execute. Execute
// templates with Render, which bounds the work; a template executed
// otherwise has only its strings capped.
func NewTemplate(name string) *template.Template {
	return template.New(name).Option("missingkey=error").Funcs(newRenderBudget(time.Time{}).funcs())
}

// TemplateFuncs returns the functions available to template files besides
// text/template's built-ins:
//
//	join SEP LIST     strings.Join
//	quote S           S as a double-quoted YAML (and JSON) string
//	indent N S        S with every line indented by N spaces
//	lower S, upper S  case conversion
//	trim S            strings.TrimSpace
//	required MSG V    V, or an error saying MSG when V is empty
//
// Every string they return, and those of the built-ins print, printf,
// println, html, js and urlquery (replaced by capped ones), is at most
// MaxTemplateString bytes: a longer one is an error.
func TemplateFuncs() template.FuncMap { return newRenderBudget(time.Time{}).funcs() }

// quote returns s as a double-quoted string that YAML and JSON both read
// back as s: " and \ escaped, \n \r \t as such, and every character
// YAML does not allow raw in a scalar, or reads as a line break, as \uXXXX
// (the C0 and C1 controls with DEL and NEL, U+2028, U+2029, U+FEFF, U+FFFE,
// U+FFFF). A byte that is not UTF-8 becomes U+FFFD, as in Go's []rune(s):
// neither format can hold it.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r) // utf8.RuneError for a byte that is not UTF-8
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TemplateData is what a template file, values file or manifest marked
// template: true sees when deploy renders it: the stack, and the site as
// the inventory describes it. A setting the inventory leaves out is the
// empty string (or an empty list), so a template tests it with `if`, or
// stops with `required` when the file cannot do without it.
type TemplateData struct {
	Stack   TemplateStack
	Site    TemplateSite
	Network TemplateNetwork
	Storage TemplateStorage
}

// TemplateStack is the bundle's stack.
type TemplateStack struct{ Name, Version string }

// TemplateSite is the site's registry: Harbor's host[:port] as nodes pull
// from it (the port only when it is not 443), or "" without Harbor.
type TemplateSite struct{ Registry string }

// TemplateNetwork is the cluster's network: the pod and service CIDRs and
// the control plane's endpoint (the VIP, or the first master) as
// host:port.
type TemplateNetwork struct{ PodCIDR, ServiceCIDR, ControlPlane string }

// TemplateStorage is the storage the site offers: the NFS export and the
// Ceph cluster.
type TemplateStorage struct {
	NFS  TemplateNFS
	Ceph TemplateCeph
}

// TemplateNFS is an NFS export.
type TemplateNFS struct{ Server, Path string }

// TemplateCeph is a Ceph cluster: its fsid (ceph-csi's clusterID) and its
// monitors as host:port.
type TemplateCeph struct {
	ClusterID string
	Monitors  []string
}

// SampleTemplateData is the data Lint and bundle build render templates
// with, to check them and to scan what they name (images), before any site
// exists: every setting filled with a placeholder of the right shape.
func SampleTemplateData(s *Stack) TemplateData {
	d := TemplateData{
		Site:    TemplateSite{Registry: "harbor.site.example"},
		Network: TemplateNetwork{PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", ControlPlane: "192.0.2.10:6443"},
		Storage: TemplateStorage{
			NFS:  TemplateNFS{Server: "nfs.site.example", Path: "/export/kubernetes"},
			Ceph: TemplateCeph{ClusterID: "00000000-0000-4000-8000-000000000000", Monitors: []string{"192.0.2.21:6789", "192.0.2.22:6789", "192.0.2.23:6789"}},
		},
	}
	if s != nil {
		d.Stack = TemplateStack{Name: s.Metadata.Name, Version: s.Metadata.Version}
	}
	return d
}

// Render executes the template text src, named name in errors, with data,
// within bounds on the work, not only on the output (see renderBudget):
// the output is at most MaxManifestSize bytes, a range over an integer or
// a list takes at most MaxTemplateRange iterations, every string a
// function returns is at most MaxTemplateString bytes, all of them
// together MaxTemplateBytes, the template executes at most
// MaxTemplateSteps actions and texts (a range's body counting once per
// iteration, a called template once per call), and the render stops after
// RenderTimeout. A limit hit is a *TemplateLimitError naming the file, the
// line and the limit.
func Render(name string, src []byte, data TemplateData) ([]byte, error) {
	b := newRenderBudget(time.Now().Add(RenderTimeout))
	t, err := template.New(name).Option("missingkey=error").Funcs(b.funcs()).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("template %s does not parse: %w", name, err)
	}
	if err := b.instrument(t); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w := &budgetWriter{b: b, w: &limitedBuffer{buf: &out, max: MaxManifestSize}}
	if err := t.Execute(w, data); err != nil {
		if le := limitHit(err); le != nil {
			le.File = name
			return nil, le
		}
		return nil, fmt.Errorf("rendering template %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// CheckTemplate parses src as a template named name and checks what can be
// checked without data: it does not call the names reserved for Render's
// bounds, and it does not range over an integer literal beyond
// MaxTemplateRange.
func CheckTemplate(name string, src []byte) error {
	t, err := NewTemplate(name).Parse(string(src))
	if err != nil {
		return err
	}
	return newRenderBudget(time.Time{}).instrument(t)
}

// ReadConfig reads the values file or manifest r names, rendered with
// SampleTemplateData when it is a template, at most MaxManifestSize bytes.
func (s *Stack) ReadConfig(r PathRef) ([]byte, error) {
	f, err := s.Open(r.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return s.readConfig(r, f)
}

// readConfig reads r's content from in, at most MaxManifestSize bytes, and
// renders it with SampleTemplateData when r is a template.
func (s *Stack) readConfig(r PathRef, in io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&limitedBuffer{buf: &buf, max: MaxManifestSize}, in); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	if !r.Template {
		return buf.Bytes(), nil
	}
	out, err := Render(r.Path, buf.Bytes(), SampleTemplateData(s))
	var le *TemplateLimitError
	if errors.As(err, &le) {
		return nil, &fixError{err.Error(), templateLimitFix}
	}
	if err != nil {
		return nil, &fixError{err.Error(), "fix the template (Go text/template; the keys are manifest.TemplateData's: .Stack, .Site, .Network, .Storage)"}
	}
	return out, nil
}
