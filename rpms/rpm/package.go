package rpm

import (
	"fmt"
	"strconv"
	"strings"
)

// Package is one RPM package as an upstream repository's metadata or the
// package's own header describes it. Fields a source does not carry are
// empty: primary metadata lists only some files (Files) and no changelog.
type Package struct {
	Name string
	Arch string
	EVR

	Summary     string
	Description string
	URL         string
	License     string
	Vendor      string
	Group       string
	BuildHost   string
	Packager    string
	SourceRPM   string
	BuildTime   int64
	FileTime    int64 // the "file" time of primary metadata

	Provides  []Dep
	Requires  []Dep
	Conflicts []Dep
	Obsoletes []Dep
	// Weak dependencies: recorded and written to repodata, never followed.
	Recommends  []Dep
	Suggests    []Dep
	Supplements []Dep
	Enhances    []Dep
	Files       []File
	Changelog   []ChangelogEntry

	InstalledSize int64
	PackageSize   int64 // size of the .rpm file
	ArchiveSize   int64

	// HeaderStart and HeaderEnd are the byte range of the main header in the
	// file, as createrepo writes it in rpm:header-range.
	HeaderStart int64
	HeaderEnd   int64

	// PayloadDigest is the hex digest of the compressed payload recorded in
	// the header (RPMTAG_PAYLOADDIGEST), with its OpenPGP hash algorithm.
	PayloadDigest     string
	PayloadDigestAlgo int

	Checksum Checksum // of the whole .rpm file
	Location string   // href relative to the repository root (or LocationBase)
	// LocationBase is the xml:base of the location, when the metadata gave one.
	LocationBase string
}

// Checksum is a file checksum as repository metadata records it.
type Checksum struct {
	Type  string // "sha256", "sha1", "sha512", ...
	Value string // lower-case hex
}

func (c Checksum) String() string { return c.Type + ":" + c.Value }

// File is one entry of a package's file list.
type File struct {
	Path string
	Type string // "" for a regular file, "dir" or "ghost"
}

// ChangelogEntry is one changelog entry of a package header.
type ChangelogEntry struct {
	Author string
	Date   int64
	Text   string
}

// EVR is an epoch:version-release triple.
type EVR struct {
	Epoch   string // "" means 0 for packages
	Version string
	Release string
}

// String formats the EVR as rpm does: [E:]V[-R].
func (e EVR) String() string {
	s := e.Version
	if e.Release != "" {
		s += "-" + e.Release
	}
	if e.Epoch != "" && e.Epoch != "0" {
		s = e.Epoch + ":" + s
	}
	return s
}

// ParseEVR splits "[E:]V[-R]".
func ParseEVR(s string) EVR {
	var e EVR
	if i := strings.IndexByte(s, ':'); i >= 0 {
		if _, err := strconv.ParseUint(s[:i], 10, 64); err == nil {
			e.Epoch, s = s[:i], s[i+1:]
		}
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		e.Version, e.Release = s[:i], s[i+1:]
	} else {
		e.Version = s
	}
	return e
}

// NEVRA formats the package as name-[epoch:]version-release.arch.
func (p *Package) NEVRA() string {
	return p.Name + "-" + p.EVR.String() + "." + p.Arch
}

// FileName is the conventional file name, name-version-release.arch.rpm.
func (p *Package) FileName() string {
	return fmt.Sprintf("%s-%s-%s.%s.rpm", p.Name, p.Version, p.Release, p.Arch)
}

// EpochNum is the epoch as a number (0 when absent or not a number).
func (e EVR) EpochNum() int64 {
	n, _ := strconv.ParseInt(e.Epoch, 10, 64)
	return n
}
