package lock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/internal/atomicfile"
	"github.com/factory-appliance/appliance/manifest"
)

// KindLock is the kind of a lock file.
const KindLock = "Lock"

// Lock pins every remote artifact of a stack to what it resolved to
// upstream. `bundle lock` writes it next to the manifest (DefaultPath);
// `bundle build --locked` fetches exactly these digests and refuses when
// upstream no longer matches (DriftError).
//
// Local files, local charts and rpmFiles are not locked: their content is
// in the manifest's tree and the bundle records their digests.
type Lock struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// ManifestDigest is manifest.Stack.Digest of the manifest the lock was made from.
	// It is informational: Check compares entries, not bytes, so editing a
	// comment does not invalidate the lock.
	ManifestDigest string `yaml:"manifestDigest"`
	// Platform is the stack's platform when locked; platform-specific
	// digests depend on it.
	Platform string `yaml:"platform"`
	// Images maps each reference as written in the manifest or image list
	// to the digest it resolved to upstream: the index digest for a
	// multi-platform image, the manifest digest otherwise.
	Images map[string]string `yaml:"images,omitempty"`
	// Files maps each file URL to the sha256 (hex) and size of the bytes
	// `bundle lock` downloaded (and verified, when the file requires a
	// signature).
	Files map[string]File `yaml:"files,omitempty"`
	// Charts maps manifest.Chart.LockKey (source and version constraint) to the
	// version chosen and the digest of its packaged .tgz.
	Charts map[string]Chart `yaml:"charts,omitempty"`
	// RPMs maps a package name to the package chosen: every package of the
	// dependency closure, not only those requested.
	RPMs map[string]RPM `yaml:"rpms,omitempty"`

	path string // where Load read it, for messages
}

// Chart is the resolution of one remote chart.
type Chart struct {
	Version string `yaml:"version"`
	Digest  string `yaml:"digest"` // sha256:<hex> of the chart .tgz
}

// File is what one URL file resolved to.
type File struct {
	SHA256 string `yaml:"sha256"`         // lower-case hex of the content
	Size   int64  `yaml:"size,omitempty"` // bytes; 0 when unknown (a lock written before sizes were recorded)
}

// UnmarshalYAML reads {sha256, size}, or the bare sha256 string that locks
// held before sizes were recorded.
func (f *File) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*f = File{SHA256: n.Value}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a locked file is {sha256, size}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "sha256":
			err = v.Decode(&f.SHA256)
		case "size":
			err = v.Decode(&f.Size)
		default:
			err = fmt.Errorf("line %d: field %s not found in a locked file", k.Line, k.Value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// RPM is the resolution of one package.
type RPM struct {
	NEVRA    string `yaml:"nevra"`          // name-[epoch:]version-release.arch
	Checksum string `yaml:"checksum"`       // <algo>:<hex>, as in the repo's primary.xml
	Repo     string `yaml:"repo,omitempty"` // the rpmRepos id it came from
}

// New returns an empty lock for s, ready to be filled by the resolver.
func New(s *manifest.Stack) *Lock {
	return &Lock{
		APIVersion:     manifest.APIVersion,
		Kind:           KindLock,
		ManifestDigest: s.Digest(),
		Platform:       s.Spec.Platform.String(),
		Images:         map[string]string{},
		Files:          map[string]File{},
		Charts:         map[string]Chart{},
		RPMs:           map[string]RPM{},
	}
}

// DefaultPath returns where the lock of a manifest lives: next to it,
// "stack.yaml" → "stack.lock.yaml" ("x.yml" → "x.lock.yml", any other name
// gets ".lock.yaml" appended).
func DefaultPath(manifestPath string) string {
	for _, ext := range []string{".yaml", ".yml"} {
		if base, ok := strings.CutSuffix(manifestPath, ext); ok {
			return base + ".lock" + ext
		}
	}
	return manifestPath + ".lock.yaml"
}

// Load reads and validates a lock file. Unknown fields, a wrong
// apiVersion or kind, and malformed digests are errors naming the file.
func Load(path string) (*Lock, error) {
	data, err := manifest.ReadFile(os.DirFS(filepath.Dir(path)), filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses lock file data; name is used in errors.
func Parse(name string, data []byte) (*Lock, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lock file %s: %w; regenerate it with bundle lock", name, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("lock file %s: %w; regenerate it with bundle lock", name, err)
	}
	l.path = name
	return &l, nil
}

var (
	// sha256HexRE is a sha256 in hex, as file pins and the lock write it.
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	digestRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	checksumRE  = regexp.MustCompile(`^(sha1|sha224|sha256|sha384|sha512):[0-9a-f]{40,128}$`)
)

func (l *Lock) validate() error {
	if l.APIVersion != manifest.APIVersion || l.Kind != KindLock {
		return fmt.Errorf("apiVersion/kind is %q/%q, want %s/%s", l.APIVersion, l.Kind, manifest.APIVersion, KindLock)
	}
	for ref, d := range l.Images {
		if !digestRE.MatchString(d) {
			return fmt.Errorf("image %s: digest %q is not sha256:<64 hex>", ref, d)
		}
	}
	for u, f := range l.Files {
		if !sha256HexRE.MatchString(f.SHA256) || f.Size < 0 {
			return fmt.Errorf("file %s: sha256 %q is not 64 hex digits, or size %d is negative", u, f.SHA256, f.Size)
		}
	}
	for k, c := range l.Charts {
		if c.Version == "" || !digestRE.MatchString(c.Digest) {
			return fmt.Errorf("chart %s: needs a version and a sha256:<64 hex> digest", k)
		}
	}
	for n, r := range l.RPMs {
		if r.NEVRA == "" || !checksumRE.MatchString(r.Checksum) {
			return fmt.Errorf("rpm %s: needs a nevra and an <algo>:<hex> checksum", n)
		}
	}
	return nil
}

// Write writes the lock atomically: to a temporary file in the same
// directory, synced, then renamed over path, so a reader sees the old or
// the new lock and never a partial one. The output is deterministic (keys
// sorted, fixed indentation): the same lock always gives the same bytes.
func (l *Lock) Write(path string) (err error) {
	if err := l.validate(); err != nil {
		return fmt.Errorf("lock file %s: %w", path, err)
	}
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// Marshal returns the lock's deterministic YAML encoding.
func (l *Lock) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# Written by `bundle lock`; do not edit. `bundle build --locked` fetches exactly these digests.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(l); err != nil {
		return nil, fmt.Errorf("encoding lock: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding lock: %w", err)
	}
	return buf.Bytes(), nil
}

// MismatchError lists how a lock file and its manifest disagree. Each
// entry reads like "image docker.io/calico/node:v3.26.4".
type MismatchError struct {
	Lock    string   // the lock file, for the message
	Missing []string // in the manifest, not in the lock
	Extra   []string // in the lock, no longer in the manifest
	Changed []string // in both, but different (platform, file sha256)
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lock file %s does not match the manifest; run `bundle lock` to update it", e.Lock)
	for _, group := range []struct {
		label string
		items []string
	}{{"missing from the lock", e.Missing}, {"in the lock but not the manifest", e.Extra}, {"changed", e.Changed}} {
		for _, it := range group.items {
			fmt.Fprintf(&b, "\n  %s: %s", group.label, it)
		}
	}
	return b.String()
}

// Check compares the lock with the stack: every remote image, URL file,
// remote chart and requested RPM must be locked, and nothing else may be
// (RPMs excepted, since the lock holds their whole closure). It returns nil
// or a *MismatchError. It does not look upstream; drift is the build's
// job (DriftError).
func (l *Lock) Check(s *manifest.Stack) error {
	e := &MismatchError{Lock: l.path}
	if e.Lock == "" {
		e.Lock = DefaultPath(s.File)
	}
	if l.Platform != s.Spec.Platform.String() {
		e.Changed = append(e.Changed, fmt.Sprintf("platform %s (locked for %s)", s.Spec.Platform, l.Platform))
	}
	l.checkImages(s, e)
	l.checkFiles(s, e)
	l.checkCharts(s, e)
	l.checkRPMs(s, e)
	if len(e.Missing)+len(e.Extra)+len(e.Changed) == 0 {
		return nil
	}
	sort.Strings(e.Missing)
	sort.Strings(e.Extra)
	sort.Strings(e.Changed)
	return e
}

func (l *Lock) checkImages(s *manifest.Stack, e *MismatchError) {
	want := map[string]bool{}
	for _, img := range s.Images() {
		want[img.Ref] = true
		if _, ok := l.Images[img.Ref]; !ok {
			e.Missing = append(e.Missing, "image "+img.Ref)
		}
	}
	addExtra(e, "image", l.Images, want)
}

func (l *Lock) checkFiles(s *manifest.Stack, e *MismatchError) {
	want := map[string]bool{}
	for _, f := range s.Files() {
		if f.URL == "" {
			continue
		}
		want[f.URL] = true
		switch got, ok := l.Files[f.URL]; {
		case !ok:
			e.Missing = append(e.Missing, "file "+f.URL)
		case f.SHA256 != "" && got.SHA256 != f.SHA256:
			e.Changed = append(e.Changed, fmt.Sprintf("file %s: manifest sha256 %s, locked %s", f.URL, f.SHA256, got.SHA256))
		}
	}
	addExtra(e, "file", l.Files, want)
}

func (l *Lock) checkCharts(s *manifest.Stack, e *MismatchError) {
	want := map[string]bool{}
	for _, c := range s.Charts() {
		if key := c.LockKey(); key != "" {
			want[key] = true
			if _, ok := l.Charts[key]; !ok {
				e.Missing = append(e.Missing, "chart "+key)
			}
		}
	}
	addExtra(e, "chart", l.Charts, want)
}

// extra records every locked key the manifest no longer wants.
func addExtra[V any](e *MismatchError, kind string, locked map[string]V, want map[string]bool) {
	for key := range locked {
		if !want[key] {
			e.Extra = append(e.Extra, kind+" "+key)
		}
	}
}

func (l *Lock) checkRPMs(s *manifest.Stack, e *MismatchError) {
	for _, r := range s.RPMs() {
		if !l.hasRPM(r.Spec) {
			e.Missing = append(e.Missing, "rpm "+r.Spec)
		}
	}
}

// hasRPM reports whether a locked package satisfies a requested spec: its
// name, name-version or name-version-release, with or without the epoch,
// or the full name-version-release.arch.
func (l *Lock) hasRPM(spec string) bool {
	if _, ok := l.RPMs[spec]; ok {
		return true
	}
	for _, r := range l.RPMs {
		for _, form := range nevraForms(r.NEVRA) {
			if spec == form {
				return true
			}
		}
	}
	return false
}

// nevraForms returns the ways a package name-[E:]V-R.A may be requested.
func nevraForms(nevra string) []string {
	i := strings.LastIndex(nevra, ".")
	if i < 0 {
		return nil
	}
	nvr := nevra[:i]
	j := strings.LastIndex(nvr, "-")
	if j < 0 {
		return nil
	}
	nv, release := nvr[:j], nvr[j+1:]
	k := strings.LastIndex(nv, "-")
	if k < 0 {
		return nil
	}
	name, ev := nv[:k], nv[k+1:]
	forms := []string{name, nevra, nv, nvr}
	if e, v, ok := strings.Cut(ev, ":"); ok {
		if _, err := strconv.ParseUint(e, 10, 64); err == nil { // an epoch
			forms = append(forms, name+"-"+v, name+"-"+v+"-"+release, name+"-"+v+"-"+release+nevra[i:])
		}
	}
	return forms
}

// ArtifactKind names a kind of locked artifact in a Drift.
type ArtifactKind string

// The kinds of locked artifacts.
const (
	KindImage ArtifactKind = "image"
	KindFile  ArtifactKind = "file"
	KindChart ArtifactKind = "chart"
	KindRPM   ArtifactKind = "rpm"
)

// Drift is one locked artifact whose upstream no longer matches the lock.
type Drift struct {
	Kind     ArtifactKind
	Name     string // the lock key: reference as written, URL, chart key or package name
	Locked   string // digest in the lock
	Upstream string // digest upstream now; "" when the artifact is gone
}

// DriftError is returned by a locked build when upstream changed. It lists
// every drifted artifact, sorted, not only the first.
type DriftError struct {
	Drifts []Drift
}

func (e *DriftError) Error() string {
	ds := append([]Drift(nil), e.Drifts...)
	sortDrifts(ds)
	var b strings.Builder
	fmt.Fprintf(&b, "upstream drifted from the lock file for %d artifact(s); investigate, then run `bundle lock` to accept the new digests", len(ds))
	for _, d := range ds {
		up := d.Upstream
		if up == "" {
			up = "gone"
		}
		fmt.Fprintf(&b, "\n  %s %s: locked %s, upstream %s", d.Kind, d.Name, d.Locked, up)
	}
	return b.String()
}

func sortDrifts(ds []Drift) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].Kind != ds[j].Kind {
			return ds[i].Kind < ds[j].Kind
		}
		return ds[i].Name < ds[j].Name
	})
}

// Errors gathers the errors of fetching many artifacts of a locked build,
// so that one run reports them all: the drifts of every *DriftError added
// go into one *DriftError, sorted, after the other errors.
type Errors struct {
	errs   []error
	drifts []Drift
}

// Add keeps err (nil is ignored) and reports whether it was nil.
func (e *Errors) Add(err error) bool {
	var de *DriftError
	switch {
	case err == nil:
		return true
	case errors.As(err, &de):
		e.drifts = append(e.drifts, de.Drifts...)
	default:
		e.errs = append(e.errs, err)
	}
	return false
}

// Err joins what was added, or returns nil.
func (e *Errors) Err() error {
	errs := e.errs
	if len(e.drifts) > 0 {
		ds := append([]Drift(nil), e.drifts...)
		sortDrifts(ds)
		errs = append(errs[:len(errs):len(errs)], &DriftError{Drifts: ds})
	}
	return errors.Join(errs...)
}
