package repodata

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// xw writes XML text with escaping; the first write error sticks.
type xw struct {
	w   *bufio.Writer
	err error
}

func newXW(w io.Writer) *xw {
	if bw, ok := w.(*bufio.Writer); ok {
		return &xw{w: bw}
	}
	return &xw{w: bufio.NewWriter(w)}
}

func (x *xw) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

// text writes s escaped for element content or attribute values. Bytes that
// XML 1.0 cannot carry (control characters, invalid UTF-8) become U+FFFD.
func (x *xw) text(s string) {
	if x.err != nil {
		return
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '"' {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		esc := ""
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&quot;"
		case c == '\n' || c == '\t' || c == '\r':
			i++
			continue
		case c < 0x20 || r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF:
			esc = "\uFFFD"
		default:
			i += size
			continue
		}
		x.w.WriteString(s[start:i])
		x.w.WriteString(esc)
		i += size
		start = i
	}
	_, x.err = x.w.WriteString(s[start:])
}

func (x *xw) int(n int64) { x.raw(strconv.FormatInt(n, 10)) }

func (x *xw) elem(indent, name, value string) {
	x.raw(indent + "<" + name + ">")
	x.text(value)
	x.raw("</" + name + ">\n")
}

func (x *xw) attr(name, value string) {
	x.raw(" " + name + "=\"")
	x.text(value)
	x.raw("\"")
}

func (x *xw) flush() error {
	if x.err != nil {
		return x.err
	}
	return x.w.Flush()
}

func epochOr0(e string) string {
	if e == "" {
		return "0"
	}
	return e
}

func (x *xw) version(indent string, p *rpm.Package) {
	x.raw(indent + "<version")
	x.attr("epoch", epochOr0(p.Epoch))
	x.attr("ver", p.Version)
	x.attr("rel", p.Release)
	x.raw("/>\n")
}

// isPrimaryFile is createrepo's rule for the files primary.xml lists.
func isPrimaryFile(path string) bool {
	return strings.HasPrefix(path, "/etc/") || strings.Contains(path, "bin/") || path == "/usr/lib/sendmail"
}

func writePrimary(w io.Writer, pkgs []*rpm.Package) error {
	x := newXW(w)
	x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	x.raw("<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"")
	x.int(int64(len(pkgs)))
	x.raw("\">\n")
	for _, p := range pkgs {
		x.primaryPackage(p)
	}
	x.raw("</metadata>\n")
	return x.flush()
}

func (x *xw) primaryPackage(p *rpm.Package) {
	x.raw("<package type=\"rpm\">\n")
	x.elem("  ", "name", p.Name)
	x.elem("  ", "arch", p.Arch)
	x.version("  ", p)
	x.raw("  <checksum type=\"sha256\" pkgid=\"YES\">")
	x.text(p.Checksum.Value)
	x.raw("</checksum>\n")
	x.elem("  ", "summary", p.Summary)
	x.elem("  ", "description", p.Description)
	x.elem("  ", "packager", p.Packager)
	x.elem("  ", "url", p.URL)
	x.raw("  <time file=\"")
	x.int(p.BuildTime)
	x.raw("\" build=\"")
	x.int(p.BuildTime)
	x.raw("\"/>\n  <size package=\"")
	x.int(p.PackageSize)
	x.raw("\" installed=\"")
	x.int(p.InstalledSize)
	x.raw("\" archive=\"")
	x.int(p.ArchiveSize)
	x.raw("\"/>\n  <location")
	x.attr("href", href(p))
	x.raw("/>\n  <format>\n")
	x.elem("    ", "rpm:license", p.License)
	x.elem("    ", "rpm:vendor", p.Vendor)
	x.elem("    ", "rpm:group", p.Group)
	x.elem("    ", "rpm:buildhost", p.BuildHost)
	x.elem("    ", "rpm:sourcerpm", p.SourceRPM)
	x.raw("    <rpm:header-range start=\"")
	x.int(p.HeaderStart)
	x.raw("\" end=\"")
	x.int(p.HeaderEnd)
	x.raw("\"/>\n")
	x.deps("provides", p.Provides, false)
	x.deps("requires", p.Requires, true)
	x.deps("conflicts", p.Conflicts, false)
	x.deps("obsoletes", p.Obsoletes, false)
	x.deps("suggests", p.Suggests, false)
	x.deps("enhances", p.Enhances, false)
	x.deps("recommends", p.Recommends, false)
	x.deps("supplements", p.Supplements, false)
	for _, f := range p.Files {
		if isPrimaryFile(f.Path) {
			x.file("    ", f)
		}
	}
	x.raw("  </format>\n</package>\n")
}

func (x *xw) deps(kind string, deps []rpm.Dep, requires bool) {
	seen := map[rpm.Dep]bool{}
	opened := false
	for _, d := range deps {
		if requires && d.IsRPMLib() || seen[d] {
			continue
		}
		seen[d] = true
		if !opened {
			x.raw("    <rpm:" + kind + ">\n")
			opened = true
		}
		x.raw("      <rpm:entry")
		x.attr("name", d.Name)
		if f := repodataFlags(d.Flags); f != "" && d.Version != "" {
			x.attr("flags", f)
			x.attr("epoch", epochOr0(d.Epoch))
			x.attr("ver", d.Version)
			if d.Release != "" {
				x.attr("rel", d.Release)
			}
		}
		if requires && d.Pre {
			x.raw(" pre=\"1\"")
		}
		x.raw("/>\n")
	}
	if opened {
		x.raw("    </rpm:" + kind + ">\n")
	}
}

// repodataFlags is the flags attribute of repodata's rpm:entry.
func repodataFlags(s rpm.Sense) string {
	switch s & rpm.SenseCompare {
	case rpm.SenseLess:
		return "LT"
	case rpm.SenseLess | rpm.SenseEqual:
		return "LE"
	case rpm.SenseEqual:
		return "EQ"
	case rpm.SenseGreater | rpm.SenseEqual:
		return "GE"
	case rpm.SenseGreater:
		return "GT"
	}
	return ""
}

func (x *xw) file(indent string, f rpm.File) {
	x.raw(indent + "<file")
	if f.Type != "" {
		x.attr("type", f.Type)
	}
	x.raw(">")
	x.text(f.Path)
	x.raw("</file>\n")
}

func writeFilelists(w io.Writer, pkgs []*rpm.Package) error {
	x := newXW(w)
	x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	x.raw("<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"")
	x.int(int64(len(pkgs)))
	x.raw("\">\n")
	for _, p := range pkgs {
		x.pkgOpen(p)
		for _, f := range p.Files {
			x.file("  ", f)
		}
		x.raw("</package>\n")
	}
	x.raw("</filelists>\n")
	return x.flush()
}

func (x *xw) pkgOpen(p *rpm.Package) {
	x.raw("<package")
	x.attr("pkgid", p.Checksum.Value)
	x.attr("name", p.Name)
	x.attr("arch", p.Arch)
	x.raw(">\n")
	x.version("  ", p)
}

func writeOther(w io.Writer, pkgs []*rpm.Package) error {
	x := newXW(w)
	x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	x.raw("<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"")
	x.int(int64(len(pkgs)))
	x.raw("\">\n")
	for _, p := range pkgs {
		x.pkgOpen(p)
		cl := p.Changelog
		if len(cl) > changelogLimit {
			cl = cl[:changelogLimit]
		}
		for i := len(cl) - 1; i >= 0; i-- {
			x.raw("  <changelog")
			x.attr("author", cl[i].Author)
			x.raw(" date=\"")
			x.int(cl[i].Date)
			x.raw("\">")
			x.text(cl[i].Text)
			x.raw("</changelog>\n")
		}
		x.raw("</package>\n")
	}
	x.raw("</otherdata>\n")
	return x.flush()
}

// escapeString escapes s for XML.
func escapeString(s string) string {
	var b strings.Builder
	x := &xw{w: bufio.NewWriter(&b)}
	x.text(s)
	x.w.Flush()
	return b.String()
}
