package manifest

import (
	"io/fs"
	"net/url"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// APIVersion and Kind identify a stack manifest; they are the only values
// accepted in its apiVersion and kind fields.
const (
	APIVersion = "appliance/v1"
	KindStack  = "Stack"
)

// Stack is a parsed, validated stack manifest. A Stack returned without
// error by Parse, Load or Builtin satisfies every rule in the package
// documentation; lint.Check checks the rest without using the network.
// A Stack is not modified after parsing and is safe for concurrent reads.
type Stack struct {
	File     string // the manifest's name as given, used in every Pos
	FS       fs.FS  // the manifest's directory; every relative path resolves in it
	Metadata Metadata
	Spec     Spec

	digest string // sha256 of the manifest bytes, "sha256:<hex>"
}

// Metadata names and versions the stack.
type Metadata struct {
	Name        string
	Version     string
	Description string
}

// Spec is what the bundle carries and how it is fetched.
type Spec struct {
	Platform Platform
	// AllPlatforms keeps every platform of multi-platform images, not only
	// Platform's, so their index digests survive a push into Harbor.
	AllPlatforms       bool
	RegistryMirrors    Mirrors  // source registry → mirror host[:port][/path]
	InsecureRegistries []string // hosts other than loopback reached over plain HTTP: registries, chart and RPM repositories, file URLs
	Verify             []VerifyRule
	RPMRepos           []RPMRepo // in priority order: the first repo that has a package wins
	RPMBase            string    // package list assumed installed on the hosts, or ""
	RPMBasePos         Pos
	Components         []Component
}

// Platform is the os/arch[/variant] whose manifests are selected from
// multi-platform images.
type Platform struct {
	OS, Architecture, Variant string
}

// String formats the platform as os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// OCI returns the platform as go-containerregistry's v1.Platform, for
// selecting a manifest from an index.
func (p Platform) OCI() v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// VerifyRule requires every image of one registry to carry a cosign
// signature that verifies with Key.
type VerifyRule struct {
	Registry string // canonical registry name ("docker.io" for Docker Hub)
	Key      string // path inside Stack.FS of a PEM public key
	Pos      Pos
}

// RPMRepo is an upstream yum repository.
type RPMRepo struct {
	ID       string
	BaseURL  string   // http://, https:// or file://
	GPGKeys  []string // each a path inside Stack.FS or an http(s)/file URL
	GPGCheck bool     // true unless the manifest says gpgcheck: false
	Pos      Pos
}

// Component is a named group of artifacts.
type Component struct {
	Name string
	Pos  Pos
	// Roles are the inventory host roles (master, worker, registry) whose
	// hosts install this component's rpms and rpmFiles at deploy time.
	Roles []string

	// Images is the expanded image list: entries written in the manifest
	// and every line of the image list files, in order.
	Images []ImageRef
	// ImageSources are the image entries as written.
	ImageSources       []ImageSource
	Files              []File
	RPMs               []RPM
	RPMFiles           []PathRef
	Charts             []Chart
	Values             []PathRef
	Manifests          []PathRef
	AllowMissingImages []AllowedImage
	// PodNetwork marks the component that is the cluster's CNI (Calico):
	// deploy installs it inside /kubernetes, once every node has joined and
	// before the cluster is waited on, instead of its own bridge network,
	// and leaves it out of /stack. At most one component has it.
	PodNetwork bool
}

// ImageSource is one entry of a component's images: a single reference or
// an image list file.
type ImageSource struct {
	Ref       string // set for a reference
	List      string // set for a list file (path inside Stack.FS)
	VerifyKey string // per-entry signature key, or ""
	Pos       Pos
}

// File is a file carried in the bundle: a local file or a URL.
type File struct {
	Path string // path inside Stack.FS, or ""
	URL  string // http(s) URL, or ""
	// SHA256 is the lower-case hex sha256 of the content, or "". Optional
	// for both: lint.Check checks a local file's; a URL file without one is
	// pinned by `bundle lock`, like an image's tag.
	SHA256    string
	Template  bool        // rendered at deploy time with Go text/template (missing keys are errors)
	Verify    *FileVerify // a URL file's required OpenPGP signature, or nil
	Component string
	Pos       Pos
}

// FileVerify requires a URL file to carry a detached OpenPGP signature
// (the upstream's "<asset>.asc") made by a key shipped with the manifest.
// The build and `bundle lock` verify it before the file is used.
type FileVerify struct {
	Key       string // path inside Stack.FS of an armored OpenPGP public key (gpgkey)
	Signature string // URL of the detached signature: as written, or the file's URL + ".asc"
	// Fingerprint, when set, is the primary key fingerprint (upper-case
	// hex, no spaces) that Key must hold and that must have made the
	// signature; other keys in the file are then not trusted.
	Fingerprint string
	Pos         Pos
}

// Name is the file's base name: the last element of its path, or of its
// URL's path (query and fragment excluded). Parse guarantees it is not empty.
func (f File) Name() string {
	if f.Path != "" {
		return path.Base(f.Path)
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		return ""
	}
	if base := path.Base(u.Path); base != "/" && base != "." {
		return base
	}
	return ""
}

// RPM is a requested package: a name, or name-version[-release].
type RPM struct {
	Spec      string
	Component string
	Pos       Pos
}

// PathRef is a manifest-relative local path with where it is written.
type PathRef struct {
	Path string // path inside Stack.FS
	// Template: the file is a Go text/template (manifest/template's New)
	// rendered at deploy time with the site's template.Data; the bundle
	// stores it as written. Values files and manifests may be templates.
	Template bool
	Pos      Pos
}

// ChartSource says where a chart comes from.
type ChartSource int

// The three chart sources; exactly one is set in each chart entry.
const (
	ChartRepo  ChartSource = iota + 1 // name + repo: a Helm chart repository (index.yaml)
	ChartOCI                          // oci: an OCI registry
	ChartLocal                        // path: a local chart directory
)

// Chart is a Helm chart entry.
type Chart struct {
	Source    ChartSource
	Name      string // chart name (repo charts)
	Repo      string // chart repository URL (repo charts)
	OCI       string // oci://host/path/name (OCI charts)
	Path      string // directory inside Stack.FS (local charts)
	Version   string // version or constraint ("45.x"); empty for local charts
	Release   string // release name; defaults to the chart's name
	Namespace string // namespace; defaults to the component's name
	Values    []PathRef
	Component string
	Pos       Pos
}

// LockKey identifies a remote chart in the lock file: its source and
// version constraint. Local charts are not locked (their content is in the
// manifest's tree) and return "".
func (c Chart) LockKey() string {
	switch c.Source {
	case ChartRepo:
		return trimSlash(c.Repo) + "/" + c.Name + "@" + c.Version
	case ChartOCI:
		return c.OCI + "@" + c.Version
	}
	return ""
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// AllowedImage is an image the completeness gate may find referenced but
// missing from the bundle.
type AllowedImage struct {
	Ref       string
	Canonical string
	Pos       Pos
}

// Digest is the sha256 of the manifest's bytes, "sha256:<hex>".
func (s *Stack) Digest() string { return s.digest }
