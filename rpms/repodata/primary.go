package repodata

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

const xmlNS = "http://www.w3.org/XML/1998/namespace"

// ParsePrimary streams primary.xml from r and calls fn for every package.
// Only one package is held at a time.
func ParsePrimary(r io.Reader, fn func(*rpm.Package) error) error {
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		p, err := parsePrimaryPackage(d)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}

// primaryState holds where in a <package> element the decoder is.
type primaryState struct {
	p        *rpm.Package
	deps     *[]rpm.Dep
	fileType string
	text     strings.Builder
}

func parsePrimaryPackage(d *xml.Decoder) (*rpm.Package, error) {
	st := &primaryState{p: &rpm.Package{}}
	depth := 1
	for depth > 0 {
		tok, err := d.Token()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the document ended inside a <package>
		}
		if err != nil {
			return nil, fmt.Errorf("primary.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			st.text.Reset()
			if err := st.start(t); err != nil {
				return nil, err
			}
		case xml.CharData:
			st.text.Write(t)
		case xml.EndElement:
			depth--
			st.end(t.Name.Local)
		}
	}
	if st.p.Name == "" || st.p.Checksum.Value == "" || st.p.Location == "" {
		return nil, fmt.Errorf("primary.xml: package %q lacks a name, checksum or location", st.p.Name)
	}
	if !isHex(st.p.Checksum.Value) {
		return nil, fmt.Errorf("primary.xml: package %q has checksum %q, which is not hex digits; the repository's metadata is damaged", st.p.Name, truncate(st.p.Checksum.Value, 140))
	}
	return st.p, nil
}

func (st *primaryState) start(t xml.StartElement) error {
	p := st.p
	switch t.Name.Local {
	case "version":
		p.Epoch, p.Version, p.Release = attr(t, "epoch"), attr(t, "ver"), attr(t, "rel")
	case "checksum":
		p.Checksum.Type = attr(t, "type")
	case "time":
		p.FileTime, _ = strconv.ParseInt(attr(t, "file"), 10, 64)
		p.BuildTime, _ = strconv.ParseInt(attr(t, "build"), 10, 64)
	case "size":
		p.PackageSize, _ = strconv.ParseInt(attr(t, "package"), 10, 64)
		p.InstalledSize, _ = strconv.ParseInt(attr(t, "installed"), 10, 64)
		p.ArchiveSize, _ = strconv.ParseInt(attr(t, "archive"), 10, 64)
	case "location":
		p.Location = attr(t, "href")
		for _, a := range t.Attr {
			if a.Name.Local == "base" && (a.Name.Space == xmlNS || a.Name.Space == "xml") {
				p.LocationBase = a.Value
			}
		}
	case "header-range":
		p.HeaderStart, _ = strconv.ParseInt(attr(t, "start"), 10, 64)
		p.HeaderEnd, _ = strconv.ParseInt(attr(t, "end"), 10, 64)
	case "provides":
		st.deps = &p.Provides
	case "requires":
		st.deps = &p.Requires
	case "conflicts":
		st.deps = &p.Conflicts
	case "obsoletes":
		st.deps = &p.Obsoletes
	case "recommends":
		st.deps = &p.Recommends
	case "suggests":
		st.deps = &p.Suggests
	case "supplements":
		st.deps = &p.Supplements
	case "enhances":
		st.deps = &p.Enhances
	case "entry":
		st.entry(t)
	case "file":
		st.fileType = attr(t, "type")
	}
	return nil
}

func (st *primaryState) entry(t xml.StartElement) {
	if st.deps == nil {
		return
	}
	dep := rpm.Dep{Name: attr(t, "name"), Flags: senseFromRepodata(attr(t, "flags"))}
	dep.EVR = rpm.EVR{Epoch: attr(t, "epoch"), Version: attr(t, "ver"), Release: attr(t, "rel")}
	dep.Pre = attr(t, "pre") == "1"
	*st.deps = append(*st.deps, dep)
}

func (st *primaryState) end(local string) {
	p, text := st.p, st.text.String()
	switch local {
	case "name":
		p.Name = text
	case "arch":
		p.Arch = text
	case "checksum":
		p.Checksum.Value = strings.ToLower(strings.TrimSpace(text))
	case "summary":
		p.Summary = text
	case "description":
		p.Description = text
	case "packager":
		p.Packager = text
	case "url":
		p.URL = text
	case "license":
		p.License = text
	case "vendor":
		p.Vendor = text
	case "group":
		p.Group = text
	case "buildhost":
		p.BuildHost = text
	case "sourcerpm":
		p.SourceRPM = text
	case "file":
		p.Files = append(p.Files, rpm.File{Path: text, Type: st.fileType})
	case "provides", "requires", "conflicts", "obsoletes", "recommends", "suggests", "supplements", "enhances":
		st.deps = nil
	}
	st.text.Reset()
}

// attr returns the value of an attribute without a namespace.
func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// ParseFilelists streams filelists.xml and calls fn for every file whose
// path is in want, with the package's pkgid (its checksum).
func ParseFilelists(r io.Reader, want map[string]bool, fn func(pkgid, path string)) error {
	d := xml.NewDecoder(r)
	pkgid := ""
	inFile := false
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("filelists.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "package":
				pkgid = strings.ToLower(attr(t, "pkgid"))
			case "file":
				inFile = true
				text.Reset()
			}
		case xml.CharData:
			if inFile {
				text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "file" {
				inFile = false
				if want[text.String()] {
					fn(pkgid, text.String())
				}
			}
		}
	}
}

// senseFromRepodata is the comparison an rpm:entry flags attribute names.
func senseFromRepodata(s string) rpm.Sense {
	switch s {
	case "LT":
		return rpm.SenseLess
	case "LE":
		return rpm.SenseLess | rpm.SenseEqual
	case "EQ":
		return rpm.SenseEqual
	case "GE":
		return rpm.SenseGreater | rpm.SenseEqual
	case "GT":
		return rpm.SenseGreater
	}
	return 0
}

// isHex reports whether s is lower-case hex digits (a checksum as
// ParsePrimary keeps it).
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return s != ""
}

// truncate cuts s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
