package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/template"
)

// ReadConfig reads the values file or manifest r names, as lint checks it
// and bundle build scans it: rendered with template.SampleData when it is a
// template, at most manifest.MaxManifestSize bytes.
func ReadConfig(s *manifest.Stack, r manifest.PathRef) ([]byte, error) {
	f, err := s.Open(r.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readConfig(s, r, f)
}

// readConfig reads r's content from in, at most manifest.MaxManifestSize
// bytes, and renders it with template.SampleData when r is a template.
func readConfig(s *manifest.Stack, r manifest.PathRef, in io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&limitedBuffer{buf: &buf, max: manifest.MaxManifestSize}, in); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Path, err)
	}
	if !r.Template {
		return buf.Bytes(), nil
	}
	out, err := template.Render(r.Path, buf.Bytes(), template.SampleData(s))
	var le *template.LimitError
	if errors.As(err, &le) {
		return nil, &fixError{err.Error(), template.LimitFix}
	}
	if err != nil {
		return nil, &fixError{err.Error(), "fix the template (Go text/template; the keys are those of manifest/template's Data: .Stack, .Site, .Network, .Storage)"}
	}
	return out, nil
}
