package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/manifest/decode"
)

// MaxManifestSize bounds the manifest and every image list file read while
// parsing, so a hostile or mistaken input cannot exhaust memory.
const MaxManifestSize = 4 << 20

// Load reads and parses the manifest at path. Relative paths in it resolve
// in the manifest's directory. See Parse.
func Load(path string) (*Stack, error) {
	fsys, err := dirFS(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("stack manifest %s: %w", path, err)
	}
	data, err := ReadFile(fsys, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("stack manifest %s: %w", path, err)
	}
	return ParseFS(fsys, path, data)
}

// Parse parses manifest data. name is used in error positions; baseDir is
// the directory relative paths resolve in, and must exist. Files are read
// through an os.Root, so neither "../" nor a symbolic link can reach
// outside baseDir. See ParseFS.
func Parse(name string, data []byte, baseDir string) (*Stack, error) {
	fsys, err := dirFS(baseDir)
	if err != nil {
		return nil, fmt.Errorf("stack manifest %s: %w", name, err)
	}
	return ParseFS(fsys, name, data)
}

// dirFS returns dir as a file system confined to it: paths and symbolic
// links that lead outside are refused. The os.Root behind it is closed by
// its finalizer once the Stack is unreachable.
func dirFS(dir string) (fs.FS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("manifest directory: %w", err)
	}
	return root.FS(), nil
}

// ParseFS parses manifest data whose relative paths resolve in fsys (the
// manifest's directory), so disk and embedded manifests work alike.
//
// It checks the whole schema (see the package documentation) and reads the
// image list files the manifest names, because their images take part in
// duplicate detection; it reads no other file and uses no network. On
// failure the error is an ErrorList holding every problem found, each
// "file:line: message; fix". ParseFS never panics, whatever data holds.
func ParseFS(fsys fs.FS, name string, data []byte) (*Stack, error) {
	sum := sha256.Sum256(data)
	p := &parser{
		Decoder: decode.Decoder{File: name, Errs: decode.Errors{File: name}},
		s:       &Stack{File: name, FS: fsys, digest: "sha256:" + hex.EncodeToString(sum[:])},
	}
	root := p.document(data)
	if root == nil {
		return nil, p.Errs.Err()
	}
	p.stack(root)
	p.resolveVerifyKeys()
	p.checkDuplicateImages()
	if err := p.Errs.Err(); err != nil {
		return nil, err
	}
	return p.s, nil
}

// parser holds the stack being built.
type parser struct {
	decode.Decoder
	s     *Stack
	first map[string]Pos // where each unique key was first seen; see seen
}

// seen records that key was written at pos. If it was written before, it
// returns the earlier position and true. Keys are namespaced by the caller
// ("component\x00core"). A map keeps duplicate detection linear in size.
func (p *parser) seen(key string, pos Pos) (Pos, bool) {
	if p.first == nil {
		p.first = map[string]Pos{}
	}
	if prev, dup := p.first[key]; dup {
		return prev, true
	}
	p.first[key] = pos
	return Pos{}, false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes data into a node tree and returns its root mapping, or
// nil after recording why it cannot.
func (p *parser) document(data []byte) (root *yaml.Node) {
	if len(data) > MaxManifestSize {
		p.Errs.Add(Pos{File: p.File}, "split it or shorten it", "manifest is larger than %d bytes", MaxManifestSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := safeDecode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.Errs.Add(Pos{File: p.File}, "start with apiVersion: "+APIVersion, "manifest is empty")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := safeDecode(dec, &extra); !errors.Is(err, io.EOF) {
		p.Errs.Add(Pos{File: p.File, Line: extra.Line}, "keep one stack per file; remove the '---' separator", "manifest holds more than one YAML document")
		return nil
	}
	if len(doc.Content) != 1 || !p.NoAliases(doc.Content[0]) {
		if len(doc.Content) != 1 {
			p.Errs.Add(Pos{File: p.File}, "start with apiVersion: "+APIVersion, "manifest is empty")
		}
		return nil
	}
	return doc.Content[0]
}

// safeDecode runs the YAML decoder, turning a panic inside it into an error
// so that ParseFS keeps its no-panic contract whatever the input.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: invalid document (%v)", r)
		}
	}()
	return dec.Decode(n)
}

func (p *parser) yamlError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	p.Errs.Add(Pos{File: p.File, Line: line}, "fix the YAML syntax", "invalid YAML: %s", msg)
}

func (p *parser) stack(root *yaml.Node) {
	f := p.Fields(root, "the manifest", "apiVersion", "kind", "metadata", "spec")
	if f == nil {
		return
	}
	p.Required(f, root, "the manifest", "apiVersion", "kind", "metadata", "spec")
	if v, ok := f["apiVersion"]; ok {
		if s, ok := p.Str(v.Val, "apiVersion"); ok && s != APIVersion {
			p.Errorf(v.Val, "write apiVersion: "+APIVersion, "unknown apiVersion %q", s)
		}
	}
	if v, ok := f["kind"]; ok {
		if s, ok := p.Str(v.Val, "kind"); ok && s != KindStack {
			p.Errorf(v.Val, "write kind: "+KindStack, "unknown kind %q", s)
		}
	}
	if v, ok := f["metadata"]; ok {
		p.metadata(v.Val)
	}
	if v, ok := f["spec"]; ok {
		p.spec(v.Val)
	}
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (p *parser) metadata(n *yaml.Node) {
	f := p.Fields(n, "metadata", "name", "version", "description")
	if f == nil {
		return
	}
	p.Required(f, n, "metadata", "name", "version")
	m := &p.s.Metadata
	if v, ok := f["name"]; ok {
		if s, ok := p.Str(v.Val, "metadata.name"); ok {
			if !dnsLabelRE.MatchString(s) {
				p.Errorf(v.Val, "use lower-case letters, digits and '-' (at most 63)", "metadata.name %q is not a valid name", s)
			}
			m.Name = s
		}
	}
	if v, ok := f["version"]; ok {
		if s, ok := p.Str(v.Val, "metadata.version"); ok {
			if !versionRE.MatchString(s) {
				p.Errorf(v.Val, "use letters, digits, '.', '-' and '+', e.g. 0.1.0", "metadata.version %q is not a valid version", s)
			}
			m.Version = s
		}
	}
	if v, ok := f["description"]; ok {
		m.Description, _ = p.Str(v.Val, "metadata.description")
	}
}

var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$`)
