package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
//	required MSG V    V, or an error saying MSG when V is empty
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
		"required": func(msg string, v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, errors.New(msg)
			case string:
				if x == "" {
					return nil, errors.New(msg)
				}
			case []string:
				if len(x) == 0 {
					return nil, errors.New(msg)
				}
			}
			return v, nil
		},
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
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

// Render executes the template text src, named name in errors, with data.
// Its output is bounded by MaxManifestSize.
func Render(name string, src []byte, data TemplateData) ([]byte, error) {
	t, err := NewTemplate(name).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("template %s does not parse: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&limitedBuffer{buf: &out, max: MaxManifestSize}, data); err != nil {
		return nil, fmt.Errorf("rendering template %s: %w", name, err)
	}
	return out.Bytes(), nil
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
	if err != nil {
		return nil, &fixError{err.Error(), "fix the template (Go text/template; the keys are manifest.TemplateData's: .Stack, .Site, .Network, .Storage)"}
	}
	return out, nil
}
