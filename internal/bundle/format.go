// Package bundle writes and reads the bundle file: a tar stream compressed
// as independent zstd frames in zstd's seekable format, carrying an OCI image
// layout, yum repositories, charts and files, indexed by bundle.json.
//
// format.go holds the whole format; docs/ARCHITECTURE.md "The bundle file"
// describes it in prose.
//
// # Layout
//
//	[tar entries, sorted by the caller][bundle.json][bundle.json.sig]
//	[tar end: 1024 zero bytes]                 ← all of this is data frames
//	[pointer: skippable frame, magic 0x184D2A50, fixed size]
//	[seek table: skippable frame, magic 0x184D2A5E, footer 0x8F92EAB1]
//
// Data frames: a new frame starts at every tar header; the header frame
// holds the header and the first ChunkSize bytes of the entry's data; every
// following ChunkSize bytes of data start a new frame; an entry's last frame
// also holds its tar padding. The end-of-archive blocks are a frame of their
// own. So frame boundaries depend only on the content, never on the number
// of cores, and chunk k of an entry is exactly one frame (plus the header or
// padding for the first and last).
//
// Tar headers: regular files only, mode 0644, mtime 0 (1970-01-01), uid and
// gid 0, empty user and group names, USTAR when the name and size fit, PAX
// otherwise. No directory entries: tar creates parent directories itself.
//
// Pointer frame payload (PointerPayloadSize bytes, little-endian):
//
//	 0  [8]byte  PointerID "APBUNDLE"
//	 8  uint32   PointerVersion (1)
//	12  uint32   reserved, 0
//	16  uint64   uncompressed offset of the end-of-archive blocks (tarEnd)
//	24  uint64   uncompressed offset of bundle.json's data
//	32  uint64   size of bundle.json
//	40  [32]byte sha256 of bundle.json
//	72  uint64   uncompressed offset of bundle.json.sig's data (0 if unsigned)
//	80  uint64   size of bundle.json.sig (0 if unsigned)
//	88  [32]byte sha256 of bundle.json.sig (zero if unsigned)
//
// The pointer frame is listed in the seek table (decompressed size 0) and is
// always the last frame before the seek table. The sha256 fields detect
// damage to bundle.json and its signature before either is parsed; they
// authenticate nothing — only the signature over bundle.json does.
//
// Seek table: facebook/zstd's seekable format without per-frame checksums
// (every data frame carries zstd's XXH64 content checksum instead). Every
// data frame is a single-segment frame with its content size and checksum.
//
// # Refinements over docs/ARCHITECTURE.md
//
//   - The pointer also records tarEnd and the sha256 of bundle.json and of
//     its signature, so that a reader checks at open time, without reading
//     the bulk of the file, that the listed entries tile the tar stream
//     exactly (no hidden entries, no overlaps, no gaps) and that the index
//     bytes are intact before handing them to the signature check.
//   - The pointer frame is listed in the seek table (decompressed size 0),
//     so the seek table's compressed sizes add up to its own offset.
//   - Directory entries, links, devices and modes other than 0644 are never
//     written and always refused; GNU tar extensions and PAX records other
//     than path and size are refused too.
//   - A path may not be both a file and the parent directory of another
//     entry, so that `tar -x` never fails half-way.
package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/zeebo/blake3"
)

// Names and sizes of the format.
const (
	// ChunkSize is the size of the pieces an entry's data is framed and
	// hashed in.
	ChunkSize = 4 << 20
	// SchemaVersion is the version of bundle.json this package writes and
	// reads. Version 1 listed chunk digests in sha256; version 2 lists them
	// in BLAKE3 (ChunkDigestPrefix), which hashes about twice as fast here,
	// so that every read at the site can afford to verify every chunk.
	SchemaVersion = 2
	// ChunkDigestPrefix opens every chunk digest: BLAKE3 with a 256-bit
	// output, as 64 lowercase hex digits. Artifact digests stay sha256
	// (they are OCI digests and RPM checksums).
	ChunkDigestPrefix = "blake3:"

	IndexName     = "bundle.json"
	SignatureName = "bundle.json.sig"
	OCILayoutName = "oci-layout"
	OCIIndexName  = "index.json"

	// PointerMagic is the skippable-frame magic of the pointer frame.
	PointerMagic uint32 = 0x184D2A50
	// PointerID opens the pointer payload.
	PointerID = "APBUNDLE"
	// PointerVersion is the version of the pointer payload.
	PointerVersion = 1
	// PointerPayloadSize is the size of the pointer payload.
	PointerPayloadSize = 120

	// MaxIndexSize bounds bundle.json, which is read into memory.
	MaxIndexSize = 64 << 20
	// MaxSignatureSize bounds bundle.json.sig.
	MaxSignatureSize = 1 << 20
	// MaxPathLen bounds entry paths.
	MaxPathLen = 1024
	// maxHeaderLen bounds one entry's tar header blocks, PAX records included.
	maxHeaderLen = 16 << 10

	tarBlock   = 512
	tarEndSize = 2 * tarBlock
)

// Artifact kinds.
const (
	KindBlob     = "blob"
	KindManifest = "manifest"
	KindLayout   = "layout"
	KindFile     = "file"
	KindRPM      = "rpm"
	KindRepodata = "repodata"
	KindKey      = "key"
	KindChart    = "chart"
	KindConfig   = "config"
)

// Index is bundle.json: everything in the bundle, by digest.
type Index struct {
	SchemaVersion  int               `json:"schemaVersion"`
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	Platform       string            `json:"platform"`
	Base           *BaseRef          `json:"base,omitempty"`
	Components     []Component       `json:"components"`
	Images         []Image           `json:"images"`
	Artifacts      []Artifact        `json:"artifacts"`
	AllowedMissing []string          `json:"allowedMissing,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
}

// BaseRef names the bundle a delta bundle was built against.
type BaseRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"` // sha256 of the base's bundle.json
}

// Component groups what one stack component brought in, and how deploy's
// /stack phase installs it: its Releases in order, then its Manifests in
// order. Components are listed in the stack's order, which is the order
// they are installed in.
type Component struct {
	Name   string   `json:"name"`
	Images []string `json:"images,omitempty"`
	Files  []string `json:"files,omitempty"`
	Charts []string `json:"charts,omitempty"`
	RPMs   []string `json:"rpms,omitempty"`
	// Releases are the component's Helm releases, in the order of its
	// charts in the stack manifest.
	Releases []Release `json:"releases,omitempty"`
	// Manifests are the entry paths (KindConfig) of the component's plain
	// Kubernetes manifests, applied in this order after its releases.
	Manifests []string `json:"manifests,omitempty"`
	// PodNetwork marks the component that is the cluster's CNI: deploy
	// installs it in /kubernetes/network, before the nodes are waited on,
	// instead of /stack (manifest.Component.PodNetwork).
	PodNetwork bool `json:"podNetwork,omitempty"`
}

// Release is one Helm release of a component: a chart of the bundle
// installed under a name in a namespace with values files.
type Release struct {
	Name      string `json:"name"`      // the release name, unique in the bundle
	Namespace string `json:"namespace"` // where it is installed
	Chart     string `json:"chart"`     // entry path (KindChart), charts/<name>-<version>.tgz
	// Values are entry paths (KindConfig) of values files in merge order,
	// later files winning: the component's values, then the chart's own.
	Values []string `json:"values,omitempty"`
}

// HasInstall reports whether the component has releases or manifests to
// install.
func (c Component) HasInstall() bool { return len(c.Releases) > 0 || len(c.Manifests) > 0 }

// Image is one image of the OCI layout.
type Image struct {
	Ref       string `json:"ref"`  // as written in the manifest
	Name      string `json:"name"` // canonical
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Component string `json:"component,omitempty"`
	Platform  string `json:"platform,omitempty"`
}

// Artifact is one tar entry listed in bundle.json.
type Artifact struct {
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Offset      int64             `json:"offset"` // uncompressed offset of the data
	Chunks      []string          `json:"chunks,omitempty"`
	MediaType   string            `json:"mediaType,omitempty"`
	Component   string            `json:"component,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// String names the artifact for error messages.
func (a Artifact) String() string {
	return fmt.Sprintf("%s %q (%s)", a.Kind, a.Name, a.Path)
}

// Entry is what Writer.Add reports about a written entry.
type Entry struct {
	Path   string
	Offset int64 // uncompressed offset of the data
	Size   int64
	Digest string   // "sha256:<hex>"
	Chunks []string // ChunkDigest of every ChunkSize piece when Size > ChunkSize
}

// Artifact returns the artifact describing e.
func (e Entry) Artifact(kind, name string) Artifact {
	return Artifact{Kind: kind, Name: name, Path: e.Path, Digest: e.Digest, Size: e.Size, Offset: e.Offset, Chunks: e.Chunks}
}

// NumChunks returns how many chunk digests an entry of size bytes has.
func NumChunks(size int64) int {
	if size <= ChunkSize {
		return 0
	}
	return int((size + ChunkSize - 1) / ChunkSize)
}

// Marshal returns the canonical bytes of the index: lists sorted, two-space
// indented, trailing newline, except what is an order: the components (the
// stack's order) and each component's releases, their values and its
// manifests (install order), which are kept as given. The same index
// always gives the same bytes.
func (x *Index) Marshal() ([]byte, error) {
	c := *x
	c.Components = append([]Component(nil), x.Components...)
	for i := range c.Components {
		cp := &c.Components[i]
		cp.Images, cp.Files = sortedCopy(cp.Images), sortedCopy(cp.Files)
		cp.Charts, cp.RPMs = sortedCopy(cp.Charts), sortedCopy(cp.RPMs)
	}
	c.Images = append([]Image(nil), x.Images...)
	sort.Slice(c.Images, func(i, j int) bool { return imageKey(c.Images[i]) < imageKey(c.Images[j]) })
	c.Artifacts = append([]Artifact(nil), x.Artifacts...)
	sort.Slice(c.Artifacts, func(i, j int) bool { return c.Artifacts[i].Path < c.Artifacts[j].Path })
	c.AllowedMissing = sortedCopy(x.AllowedMissing)
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", IndexName, err)
	}
	return append(b, '\n'), nil
}

func imageKey(im Image) string {
	return im.Name + "\x00" + im.Ref + "\x00" + im.Platform + "\x00" + im.Digest
}

func sortedCopy(s []string) []string {
	if s == nil {
		return nil
	}
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// ParseIndex decodes bundle.json strictly (unknown fields and trailing data
// are errors) and checks it: schema version, paths, digests, sizes, chunk
// lists, unique paths, and the names deploy hands to hosts (names.go). It does not check offsets against a file; the
// Reader does that.
func ParseIndex(b []byte) (*Index, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var x Index
	if err := dec.Decode(&x); err != nil {
		return nil, Corruptf("%s: %v", IndexName, err)
	}
	if dec.More() {
		return nil, Corruptf("%s: data after the JSON object", IndexName)
	}
	if err := x.check(); err != nil {
		return nil, Corruptf("%s: %w", IndexName, err)
	}
	return &x, nil
}

// check validates what can be validated without the file.
func (x *Index) check() error {
	if x.SchemaVersion != SchemaVersion {
		if x.SchemaVersion < SchemaVersion {
			return fmt.Errorf("schema version %d, this program reads %d: the bundle was made by an older bundle tool; build it again with this one", x.SchemaVersion, SchemaVersion)
		}
		return fmt.Errorf("schema version %d, this program reads %d: the bundle was made by a newer bundle tool; use that version of deploy", x.SchemaVersion, SchemaVersion)
	}
	seen := make(map[string]bool, len(x.Artifacts))
	for _, a := range x.Artifacts {
		if err := a.check(); err != nil {
			return err
		}
		if seen[a.Path] {
			return fmt.Errorf("path %q is listed twice", a.Path)
		}
		seen[a.Path] = true
	}
	if err := x.checkNames(); err != nil {
		return err
	}
	return x.checkInstall()
}

func (a Artifact) check() error {
	if err := CheckPath(a.Path); err != nil {
		return err
	}
	if a.Path == IndexName || a.Path == SignatureName {
		return fmt.Errorf("artifact %s uses a reserved path", a)
	}
	if !validDigest(a.Digest) {
		return fmt.Errorf("artifact %s has a malformed digest %q", a, a.Digest)
	}
	if a.Size < 0 || a.Offset < tarBlock {
		return fmt.Errorf("artifact %s has an impossible size %d or offset %d", a, a.Size, a.Offset)
	}
	if len(a.Chunks) != NumChunks(a.Size) {
		return fmt.Errorf("artifact %s of %d bytes lists %d chunk digests, want %d", a, a.Size, len(a.Chunks), NumChunks(a.Size))
	}
	for _, c := range a.Chunks {
		if !validChunkDigest(c) {
			return fmt.Errorf("artifact %s has a malformed chunk digest %q", a, c)
		}
	}
	return nil
}

// validDigest accepts "sha256:" and 64 lowercase hex digits.
func validDigest(d string) bool {
	return validHex(d, "sha256:")
}

// validChunkDigest accepts ChunkDigestPrefix and 64 lowercase hex digits.
func validChunkDigest(d string) bool {
	return validHex(d, ChunkDigestPrefix)
}

func validHex(d, prefix string) bool {
	h, ok := strings.CutPrefix(d, prefix)
	if !ok || len(h) != 2*sha256.Size || strings.ToLower(h) != h {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// ChunkDigest is the digest bundle.json lists for one chunk of an entry.
func ChunkDigest(data []byte) string {
	sum := blake3.Sum256(data)
	return ChunkDigestPrefix + hex.EncodeToString(sum[:])
}

// NewChunkHash returns a hash whose Sum, prefixed with ChunkDigestPrefix in
// hex, is ChunkDigest of what was written to it.
func NewChunkHash() hash.Hash { return blake3.New() }

// ChunkDigestOf formats h's sum (h from NewChunkHash) as a chunk digest.
func ChunkDigestOf(h hash.Hash) string {
	return ChunkDigestPrefix + hex.EncodeToString(h.Sum(nil))
}

// CheckPath refuses entry paths that are not safe relative file paths:
// empty, absolute, with "." or ".." elements, empty elements, a trailing
// slash, backslashes, NUL or other control characters, or longer than
// MaxPathLen. Every path the bundle writes or reads passes it.
func CheckPath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("%w: empty entry path", ErrUnsafePath)
	case len(p) > MaxPathLen:
		return fmt.Errorf("%w: entry path of %d bytes is longer than %d", ErrUnsafePath, len(p), MaxPathLen)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: absolute entry path %q", ErrUnsafePath, p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return fmt.Errorf("%w: entry path %q has a backslash or control character", ErrUnsafePath, p)
	case !fs.ValidPath(p):
		return fmt.Errorf("%w: entry path %q has a \"..\", \".\" or empty element", ErrUnsafePath, p)
	}
	return nil
}

// entryHeader is the tar header of every entry.
func entryHeader(path string, size int64) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     path,
		Size:     size,
		Mode:     0o644,
		ModTime:  time.Unix(0, 0),
	}
}

// padded returns size rounded up to whole tar blocks.
func padded(size int64) int64 {
	return (size + tarBlock - 1) / tarBlock * tarBlock
}

// pointer is the decoded pointer frame payload.
type pointer struct {
	TarEnd    int64
	Index     span
	Signature span // zero when unsigned
}

// span locates one entry's data in the uncompressed stream.
type span struct {
	Offset, Size int64
	Digest       [sha256.Size]byte
}

func (s span) present() bool { return s.Offset != 0 }

func (p pointer) marshal() []byte {
	b := make([]byte, 0, PointerPayloadSize)
	b = append(b, PointerID...)
	b = binary.LittleEndian.AppendUint32(b, PointerVersion)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.TarEnd))
	for _, s := range []span{p.Index, p.Signature} {
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Offset))
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Size))
		b = append(b, s.Digest[:]...)
	}
	return b
}

// parsePointer decodes a pointer payload; it checks the layout of the
// payload only, not the offsets against the file.
func parsePointer(b []byte) (pointer, error) {
	var p pointer
	if len(b) != PointerPayloadSize || string(b[:8]) != PointerID {
		return p, Corruptf("no bundle pointer before the seek table (not a bundle file?)")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != PointerVersion {
		return p, Corruptf("bundle pointer version %d, this program reads %d", v, PointerVersion)
	}
	if binary.LittleEndian.Uint32(b[12:]) != 0 {
		return p, Corruptf("bundle pointer has reserved bytes set")
	}
	u := func(off int) (int64, error) {
		v := binary.LittleEndian.Uint64(b[off:])
		if v > 1<<62 {
			return 0, Corruptf("bundle pointer field at byte %d is out of range", off)
		}
		return int64(v), nil
	}
	var err error
	if p.TarEnd, err = u(16); err != nil {
		return p, err
	}
	for i, s := range []*span{&p.Index, &p.Signature} {
		base := 24 + i*48
		if s.Offset, err = u(base); err != nil {
			return p, err
		}
		if s.Size, err = u(base + 8); err != nil {
			return p, err
		}
		copy(s.Digest[:], b[base+16:base+48])
	}
	return p, nil
}

// Artifact annotations the build writes; readers may rely on them.
const (
	// AnnotationTemplate marks a file rendered at deploy time with Go
	// text/template (value "true"); it is stored unrendered.
	AnnotationTemplate = "appliance.template"
	// AnnotationSource is the URL a file was downloaded from.
	AnnotationSource = "appliance.source"
	// AnnotationChartVersion is a chart's version, from its Chart.yaml.
	AnnotationChartVersion = "appliance.chart.version"
	// AnnotationStackPath is the path, relative to the stack manifest, of
	// a values file or manifest (KindConfig) as the manifest names it.
	AnnotationStackPath = "appliance.stack.path"
	// AnnotationRPMNEVRA is an RPM's name-[epoch:]version-release.arch.
	AnnotationRPMNEVRA = "appliance.rpm.nevra"
	// AnnotationRPMRepo is the upstream repository an RPM came from.
	AnnotationRPMRepo = "appliance.rpm.repo"
	// AnnotationRPMRequested is "true" for an RPM the manifest asked for.
	AnnotationRPMRequested = "appliance.rpm.requested"
	// AnnotationRPMBy is the package whose requirement pulled an RPM in, and
	// AnnotationRPMNeed that requirement.
	AnnotationRPMBy   = "appliance.rpm.by"
	AnnotationRPMNeed = "appliance.rpm.need"
	// AnnotationRPMFile is the manifest path of a local rpmFiles entry.
	AnnotationRPMFile = "appliance.rpm.file"
	// AnnotationPackagesPrefix + a host role ("master", "worker",
	// "registry") is an index annotation: the space-separated names of the
	// packages deploy installs on hosts of that role.
	AnnotationPackagesPrefix = "appliance.packages/"
)
