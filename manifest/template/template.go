package template

import (
	"bytes"
	"fmt"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/factory-appliance/appliance/manifest"
)

// New returns an empty template for a stack's template files, with the
// functions they may use (Funcs) and strict missing keys: a key absent from
// the data is an error, never "<no value>". manifest/lint parses every
// template file with it (Check), and Render executes with the same
// functions, so a template that lints is one deploy can execute. Execute
// templates with Render, which bounds the work; a template executed
// otherwise has only its strings capped.
func New(name string) *texttemplate.Template {
	return texttemplate.New(name).Option("missingkey=error").Funcs(newRenderBudget(time.Time{}).funcs())
}

// Funcs returns the functions available to template files besides
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
func Funcs() texttemplate.FuncMap { return newRenderBudget(time.Time{}).funcs() }

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

// Data is what a template file, values file or manifest marked
// template: true sees when deploy renders it: the stack, and the site as
// the inventory describes it. A setting the inventory leaves out is the
// empty string (or an empty list), so a template tests it with `if`, or
// stops with `required` when the file cannot do without it.
type Data struct {
	Stack   Stack
	Site    Site
	Network Network
	Storage Storage
}

// Stack is the bundle's stack.
type Stack struct{ Name, Version string }

// Site is the site's registry: Harbor's host[:port] as nodes pull
// from it (the port only when it is not 443), or "" without Harbor.
type Site struct{ Registry string }

// Network is the cluster's network: the pod and service CIDRs and
// the control plane's endpoint (the VIP, or the first master) as
// host:port.
type Network struct{ PodCIDR, ServiceCIDR, ControlPlane string }

// Storage is the storage the site offers: the NFS export and the
// Ceph cluster.
type Storage struct {
	NFS  NFS
	Ceph Ceph
}

// NFS is an NFS export.
type NFS struct{ Server, Path string }

// Ceph is a Ceph cluster: its fsid (ceph-csi's clusterID) and its
// monitors as host:port.
type Ceph struct {
	ClusterID string
	Monitors  []string
}

// SampleData is the data lint.Check and bundle build render templates
// with, to check them and to scan what they name (images), before any site
// exists: every setting filled with a placeholder of the right shape.
func SampleData(s *manifest.Stack) Data {
	d := Data{
		Site:    Site{Registry: "harbor.site.example"},
		Network: Network{PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", ControlPlane: "192.0.2.10:6443"},
		Storage: Storage{
			NFS:  NFS{Server: "nfs.site.example", Path: "/export/kubernetes"},
			Ceph: Ceph{ClusterID: "00000000-0000-4000-8000-000000000000", Monitors: []string{"192.0.2.21:6789", "192.0.2.22:6789", "192.0.2.23:6789"}},
		},
	}
	if s != nil {
		d.Stack = Stack{Name: s.Metadata.Name, Version: s.Metadata.Version}
	}
	return d
}

// Render executes the template text src, named name in errors, with data,
// within bounds on the work, not only on the output (see renderBudget):
// the output is at most manifest.MaxManifestSize bytes, a range over an integer or
// a list takes at most MaxTemplateRange iterations, every string a
// function returns is at most MaxTemplateString bytes, all of them
// together MaxTemplateBytes, the template executes at most
// MaxTemplateSteps actions and texts (a range's body counting once per
// iteration, a called template once per call), and the render stops after
// RenderTimeout. A limit hit is a *LimitError naming the file, the
// line and the limit.
func Render(name string, src []byte, data Data) ([]byte, error) {
	b := newRenderBudget(time.Now().Add(RenderTimeout))
	t, err := texttemplate.New(name).Option("missingkey=error").Funcs(b.funcs()).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("template %s does not parse: %w", name, err)
	}
	if err := b.instrument(t); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w := &budgetWriter{b: b, buf: &out, max: manifest.MaxManifestSize}
	if err := t.Execute(w, data); err != nil {
		if le := limitHit(err); le != nil {
			le.File = name
			return nil, le
		}
		return nil, fmt.Errorf("rendering template %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// Check parses src as a template named name and checks what can be
// checked without data: it does not call the names reserved for Render's
// bounds, and it does not range over an integer literal beyond
// MaxTemplateRange.
func Check(name string, src []byte) error {
	t, err := New(name).Parse(string(src))
	if err != nil {
		return err
	}
	return newRenderBudget(time.Time{}).instrument(t)
}
