package lint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/decode"
	"github.com/factory-appliance/appliance/manifest/template"
)

// Check checks what parsing does not and needs no network: every local path
// the manifest names exists and has the right shape.
//
//   - files: a regular file; its sha256 matches when one is given; a
//     template parses with template.New and passes template.Check;
//   - rpmFiles: a regular file that starts with the RPM lead;
//   - values and chart values: a YAML mapping; manifests: YAML documents;
//     a template (template: true) is rendered with template.SampleData first;
//   - local charts: a directory holding Chart.yaml;
//   - verify keys: a PEM public key; local gpgkeys and a URL file's
//     verify.gpgkey: an armored PGP public key;
//   - rpmBase: a package list (see manifest.Stack.ReadRPMBase).
//
// Image list files were read by manifest.Parse. Check reports every problem
// at once as a manifest.ErrorList, positioned where the manifest names the
// path. It streams file contents and holds at most one YAML file
// (manifest.MaxManifestSize) at a time.
func Check(s *manifest.Stack) error {
	l := &linter{s: s, errs: decode.Errors{File: s.File}}
	for _, c := range s.Spec.Components {
		l.component(c)
	}
	keys := map[string]manifest.Pos{}
	for _, r := range s.Spec.Verify {
		keys[r.Key] = r.Pos
	}
	for _, img := range s.Images() {
		if _, seen := keys[img.VerifyKey]; img.VerifyKey != "" && !seen {
			keys[img.VerifyKey] = img.Source
		}
	}
	for key, pos := range keys {
		l.check(pos, key, "verify key", checkPublicKey)
	}
	for _, r := range s.Spec.RPMRepos {
		for _, k := range r.GPGKeys {
			if !manifest.IsURL(k) {
				l.check(r.Pos, k, "gpgkey", checkPGPKey)
			}
		}
	}
	if s.Spec.RPMBase != "" {
		if _, err := s.ReadRPMBase(); err != nil {
			l.errs.Add(s.Spec.RPMBasePos, "create or fix the list: one package name per line, '#' for comments", "%v", err)
		}
	}
	return l.errs.Err()
}

type linter struct {
	s    *manifest.Stack
	errs decode.Errors
}

func (l *linter) component(c manifest.Component) {
	for _, f := range c.Files {
		if f.Path != "" {
			l.check(f.Pos, f.Path, "file", l.fileCheck(f))
		}
		if f.Verify != nil {
			l.check(f.Verify.Pos, f.Verify.Key, "verify.gpgkey", checkPGPKey)
		}
	}
	for _, r := range c.RPMFiles {
		l.check(r.Pos, r.Path, "rpm file", checkRPMLead)
	}
	for _, v := range c.Values {
		l.check(v.Pos, v.Path, "values file", l.rendered(v, "values file", checkValues))
	}
	for _, m := range c.Manifests {
		l.check(m.Pos, m.Path, "manifest", l.rendered(m, "manifest", checkManifests))
	}
	for _, ch := range c.Charts {
		if ch.Source == manifest.ChartLocal {
			l.check(ch.Pos, path.Join(ch.Path, "Chart.yaml"), "chart", checkChartYAML)
		}
		for _, v := range ch.Values {
			l.check(v.Pos, v.Path, "values file", l.rendered(v, "values file", checkValues))
		}
	}
}

// rendered is fn, on the file rendered with template.SampleData first when
// r is a template: a template that lints renders, with every key it uses,
// into a file of the right shape. A template that fails is reported at
// the line of the file the template error names; a file not marked as a
// template is checked by unmarked.
func (l *linter) rendered(r manifest.PathRef, what string, fn func(io.Reader) error) func(io.Reader) error {
	if !r.Template {
		return unmarked(what, r.Path, fn)
	}
	return func(in io.Reader) error {
		out, err := readConfig(l.s, r, in)
		if err != nil {
			if n := errLine(templateErrLine, err); n > 0 {
				return &atLine{err, n}
			}
			return err
		}
		if err := fn(bytes.NewReader(out)); err != nil {
			return fmt.Errorf("once rendered: %w", err)
		}
		return nil
	}
}

// check opens rel and runs fn on it, recording any problem at pos.
func (l *linter) check(pos manifest.Pos, rel, what string, fn func(r io.Reader) error) {
	f, err := l.s.Open(rel)
	if err != nil {
		fix := "create it, or fix the path (relative to the manifest's directory)"
		// os.Root's error for a symbolic link leading outside is unexported.
		if strings.Contains(err.Error(), "escapes") {
			fix = "a symbolic link on the path leads outside the manifest's directory; copy the file inside it"
		}
		l.errs.Add(pos, fix, "%s %s: %v", what, l.s.Display(rel), manifest.OpenError(err))
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		l.errs.Add(pos, "name a regular file", "%s %s is not a regular file", what, l.s.Display(rel))
		return
	}
	if err := fn(f); err != nil {
		at, named := pos, ""
		var al *atLine
		if errors.As(err, &al) && al.line > 0 {
			at, named = manifest.Pos{File: l.s.Display(rel), Line: al.line}, " (named at "+pos.String()+")"
		}
		l.errs.Add(at, lintFix(err), "%s %s%s: %v", what, l.s.Display(rel), named, err)
	}
}

// fixError carries a problem found in a file and how to fix it.
type fixError struct {
	msg, fix string
}

func (e *fixError) Error() string { return e.msg }

func lintFix(err error) string {
	var fe *fixError
	if errors.As(err, &fe) {
		return fe.fix
	}
	return ""
}

func (l *linter) fileCheck(f manifest.File) func(io.Reader) error {
	return func(r io.Reader) error {
		h := sha256.New()
		var body bytes.Buffer
		var w io.Writer = h
		if f.Template {
			w = io.MultiWriter(h, &limitedBuffer{buf: &body, max: manifest.MaxManifestSize})
		}
		if _, err := io.Copy(w, r); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); f.SHA256 != "" && got != f.SHA256 {
			return &fixError{fmt.Sprintf("sha256 is %s, the manifest says %s", got, f.SHA256), "update sha256 in the manifest if the change is intended"}
		}
		if f.Template {
			var le *template.LimitError
			if err := template.Check(f.Name(), body.Bytes()); errors.As(err, &le) {
				return &fixError{err.Error(), template.LimitFix}
			} else if err != nil {
				return &fixError{"template does not parse: " + err.Error(), "fix the template syntax (Go text/template)"}
			}
		}
		return nil
	}
}

// limitedBuffer keeps at most max bytes and fails beyond, so a huge template
// cannot exhaust memory.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		return 0, &fixError{fmt.Sprintf("larger than %d bytes", b.max), "templates must be small text files"}
	}
	return b.buf.Write(p)
}

func readAllLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, manifest.MaxManifestSize+1))
	if err == nil && len(data) > manifest.MaxManifestSize {
		err = fmt.Errorf("larger than %d bytes", manifest.MaxManifestSize)
	}
	return data, err
}

func checkRPMLead(r io.Reader) error {
	lead := make([]byte, 4)
	if _, err := io.ReadFull(r, lead); err != nil || !bytes.Equal(lead, []byte{0xed, 0xab, 0xee, 0xdb}) {
		return &fixError{"not an RPM package (no RPM lead)", "name a binary .rpm built by rpmbuild"}
	}
	return nil
}

func checkValues(r io.Reader) error {
	data, err := readAllLimited(r)
	if err != nil {
		return err
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return &fixError{"invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), "fix the YAML syntax"}
	}
	if _, ok := v.(map[string]any); v != nil && !ok {
		return &fixError{"is not a YAML mapping", "Helm values are a mapping of keys to values"}
	}
	return nil
}

func checkManifests(r io.Reader) error {
	data, err := readAllLimited(r)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &fixError{fmt.Sprintf("document %d: invalid YAML: %s", doc, strings.TrimPrefix(err.Error(), "yaml: ")), "fix the YAML syntax"}
		}
		if _, ok := v.(map[string]any); v != nil && !ok {
			return &fixError{fmt.Sprintf("document %d is not a Kubernetes object (a mapping)", doc), "each document must be an object with apiVersion and kind"}
		}
	}
}

func checkChartYAML(r io.Reader) error {
	data, err := readAllLimited(r)
	if err != nil {
		return err
	}
	var meta struct {
		Name    string `yaml:"name"`
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil || meta.Name == "" || meta.Version == "" {
		return &fixError{"Chart.yaml lacks a name or version", "give Chart.yaml name: and version:"}
	}
	return nil
}

func checkPublicKey(r io.Reader) error {
	data, err := readAllLimited(r)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return &fixError{"not a PEM public key", "use the .pub file of `cosign generate-key-pair` or `bundle keys generate`"}
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return &fixError{"public key does not parse: " + err.Error(), "use the .pub file of `cosign generate-key-pair`"}
	}
	return nil
}

func checkPGPKey(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "-----BEGIN PGP PUBLIC KEY BLOCK-----" {
			return nil
		}
	}
	return &fixError{"not an armored PGP public key", "export it with gpg --armor --export"}
}
