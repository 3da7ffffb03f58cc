package repodata

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// The upstream metadata readers take input from repositories on the
// internet. Their fuzz targets check that they never panic and that what
// they accept survives our own writer: parse → write → parse gives the same
// packages, and writing again gives the same bytes. Crashers found by go
// test -fuzz are kept in testdata/fuzz/<target>. (The rich dependency
// parser's target, FuzzRichDep, is in package rpms.)
// Run: go test -run='^$' -fuzz='^FuzzPrimary$' -fuzztime=30s ./rpms/repodata

const fuzzPrimary = `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
<package type="rpm">
  <name>chain-a</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">6c3b1f1e0d0a4a8b9e2f7d5c4b3a291807f6e5d4c3b2a19081726354a5b6c7d8</checksum>
  <summary>a &amp; b &lt;c&gt;</summary>
  <description>line one
line two</description>
  <packager></packager>
  <url>https://example.com/?a=1&amp;b=2</url>
  <time file="1700000000" build="1700000000"/>
  <size package="6512" installed="12" archive="400"/>
  <location xml:base="https://mirror.example.com/el9/" href="Packages/c/chain-a-1.0-1.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor/>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>build</rpm:buildhost>
    <rpm:sourcerpm>chain-a-1.0-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="6000"/>
    <rpm:provides>
      <rpm:entry name="chain-a" flags="EQ" epoch="0" ver="1.0" rel="1"/>
      <rpm:entry name="libchain.so.1()(64bit)"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="(chain-b if chain-c else chain-d)"/>
      <rpm:entry name="/bin/sh" pre="1"/>
      <rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>
      <rpm:entry name="chain-e" flags="GE" epoch="2" ver="1.2"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="old" flags="LT" epoch="0" ver="1"/></rpm:conflicts>
    <rpm:recommends><rpm:entry name="extra"/></rpm:recommends>
    <file>/etc/chain.conf</file>
    <file type="dir">/usr/bin</file>
    <file type="ghost">/usr/sbin/chain</file>
  </format>
</package>
<package type="rpm">
  <name>b</name><arch>noarch</arch><version ver="2" rel="3"/>
  <checksum type="sha1">DEADBEEF</checksum>
  <location href="b.rpm"/>
</package>
</metadata>
`

// normalizePrimary is what writePrimary keeps of a package parsed from
// upstream metadata: it writes the epoch as "0" when empty, the file time
// as the build time, the checksum type as sha256, no xml:base, only primary files,
// and each dependency once, without rpmlib() requirements or a comparison
// that has no version.
func normalizePrimary(p *rpm.Package) *rpm.Package {
	c := *p
	c.FileTime = c.BuildTime
	c.LocationBase = "" // the bundle's repo serves every package itself
	c.Checksum.Type = "sha256"
	c.Epoch = epochOr0(c.Epoch)
	c.Files = nil
	for _, f := range p.Files {
		if isPrimaryFile(f.Path) {
			c.Files = append(c.Files, f)
		}
	}
	dedup := func(deps []rpm.Dep, requires bool) []rpm.Dep {
		var out []rpm.Dep
		seen := map[rpm.Dep]bool{}
		for _, d := range deps {
			if requires && d.IsRPMLib() || seen[d] {
				continue
			}
			seen[d] = true
			if repodataFlags(d.Flags) == "" || d.Version == "" {
				d.Flags, d.EVR = 0, rpm.EVR{}
			} else {
				d.Epoch = epochOr0(d.Epoch)
			}
			if !requires {
				d.Pre = false
			}
			out = append(out, d)
		}
		return out
	}
	c.Provides, c.Requires, c.Conflicts, c.Obsoletes = dedup(p.Provides, false), dedup(p.Requires, true), dedup(p.Conflicts, false), dedup(p.Obsoletes, false)
	c.Recommends, c.Suggests, c.Supplements, c.Enhances = dedup(p.Recommends, false), dedup(p.Suggests, false), dedup(p.Supplements, false), dedup(p.Enhances, false)
	return &c
}

func parseAll(t *testing.T, data []byte) ([]*rpm.Package, error) {
	t.Helper()
	var pkgs []*rpm.Package
	err := ParsePrimary(bytes.NewReader(data), func(p *rpm.Package) error {
		pkgs = append(pkgs, p)
		return nil
	})
	return pkgs, err
}

func samePackages(a, b []*rpm.Package) bool {
	return slices.EqualFunc(a, b, func(x, y *rpm.Package) bool {
		return x.Name == y.Name && x.Arch == y.Arch && x.EVR == y.EVR && x.Checksum == y.Checksum &&
			x.Location == y.Location && x.LocationBase == y.LocationBase &&
			x.Summary == y.Summary && x.Description == y.Description && x.URL == y.URL && x.License == y.License &&
			x.BuildTime == y.BuildTime && x.PackageSize == y.PackageSize && x.HeaderStart == y.HeaderStart && x.HeaderEnd == y.HeaderEnd &&
			slices.Equal(x.Provides, y.Provides) && slices.Equal(x.Requires, y.Requires) &&
			slices.Equal(x.Conflicts, y.Conflicts) && slices.Equal(x.Obsoletes, y.Obsoletes) &&
			slices.Equal(x.Files, y.Files)
	})
}

// FuzzPrimary feeds arbitrary primary.xml to the upstream reader. Every
// package it accepts has a name, checksum and location, and writing the
// packages with writePrimary and reading them back gives them unchanged
// (as far as primary.xml carries them) and the same bytes when written
// again.
func FuzzPrimary(f *testing.F) {
	f.Add([]byte(fuzzPrimary))
	f.Add([]byte(`<metadata><package><name>a</name><checksum>00</checksum><location href="a.rpm"/></package></metadata>`))
	f.Add([]byte(`<package><name>a</name><checksum>00</checksum><location href="a.rpm"/><format><rpm:requires><rpm:entry name="x" flags="GT" ver="1"/>`))
	f.Add([]byte(`<metadata><package><name>&#1;</name><checksum>x</checksum><location href="&quot;&lt;"/></package></metadata>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseAll(t, data)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Checksum.Value == "" || p.Location == "" {
				t.Fatalf("accepted a package without name, checksum or location: %+v", p)
			}
		}
		var first bytes.Buffer
		if err := writePrimary(&first, pkgs); err != nil {
			t.Fatal(err)
		}
		again, err := parseAll(t, first.Bytes())
		if err != nil {
			t.Fatalf("primary.xml written from accepted packages does not parse: %v\n%s", err, first.Bytes())
		}
		if !xmlSafe(pkgs) {
			return // text XML cannot carry was replaced; the bytes check below still holds
		}
		want := make([]*rpm.Package, len(pkgs))
		for i, p := range pkgs {
			want[i] = normalizePrimary(p)
		}
		if !samePackages(want, again) {
			t.Fatalf("packages changed through writePrimary:\n%+v\n%+v", want, again)
		}
		var second bytes.Buffer
		if err := writePrimary(&second, again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("writing the packages read back gives other bytes:\n%s\n%s", first.Bytes(), second.Bytes())
		}
	})
}

// xmlSafe reports whether every string of pkgs is text XML carries as it
// is: valid UTF-8 without control characters other than tab and newline
// (writePrimary replaces the rest with U+FFFD, and XML turns a carriage
// return into a newline), so the round trip can be compared exactly.
func xmlSafe(pkgs []*rpm.Package) bool {
	ok := func(s string) bool {
		if !utf8.ValidString(s) {
			return false
		}
		for _, r := range s {
			if r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF {
				return false
			}
		}
		return true
	}
	for _, p := range pkgs {
		for _, s := range []string{p.Name, p.Arch, p.Epoch, p.Version, p.Release, p.Summary, p.Description, p.Packager, p.URL,
			p.License, p.Vendor, p.Group, p.BuildHost, p.SourceRPM, p.Location, p.Checksum.Value} {
			if !ok(s) {
				return false
			}
		}
		for _, ds := range [][]rpm.Dep{p.Provides, p.Requires, p.Conflicts, p.Obsoletes, p.Recommends, p.Suggests, p.Supplements, p.Enhances} {
			for _, d := range ds {
				if !ok(d.Name) || !ok(d.Epoch) || !ok(d.Version) || !ok(d.Release) {
					return false
				}
			}
		}
		for _, f := range p.Files {
			if !ok(f.Path) || !ok(f.Type) {
				return false
			}
		}
	}
	return true
}

// FuzzFilelists checks the upstream filelists.xml reader: it reports only
// the paths asked for, and the files of packages written by
// writeFilelists come back with their package's pkgid.
func FuzzFilelists(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="1">
<package pkgid="ABC123" name="chain-a" arch="x86_64">
  <version epoch="0" ver="1.0" rel="1"/>
  <file>/usr/bin/chain</file>
  <file type="dir">/etc/chain</file>
  <file>/usr/lib/a &amp; b</file>
</package>
</filelists>
`), "/usr/bin/chain", "/usr/lib/a & b")
	f.Add([]byte(`<filelists><package pkgid="x"><file>/a<file>/b</file></file></package></filelists>`), "/a", "/b")
	f.Add([]byte(`<file>/a</file>`), "/a", "")
	f.Fuzz(func(t *testing.T, data []byte, path1, path2 string) {
		want := map[string]bool{path1: true, path2: true}
		err := ParseFilelists(bytes.NewReader(data), want, func(pkgid, path string) {
			if !want[path] {
				t.Fatalf("reported %q, which was not asked for", path)
			}
			if pkgid != strings.ToLower(pkgid) {
				t.Fatalf("pkgid %q is not lower-case", pkgid)
			}
		})
		_ = err
		// What writeFilelists writes reads back: every file with its pkgid.
		paths := []string{path1, path2}
		if !xmlSafe([]*rpm.Package{{Files: []rpm.File{{Path: path1}, {Path: path2}}}}) {
			return
		}
		pkgs := []*rpm.Package{
			{Name: "a", Arch: "x86_64", EVR: rpm.EVR{Version: "1", Release: "1"}, Checksum: rpm.Checksum{Value: "00aa"}, Files: []rpm.File{{Path: path1}}},
			{Name: "b", Arch: "noarch", EVR: rpm.EVR{Version: "2", Release: "1"}, Checksum: rpm.Checksum{Value: "11bb"}, Files: []rpm.File{{Path: path2, Type: "dir"}}},
		}
		var out bytes.Buffer
		if err := writeFilelists(&out, pkgs); err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := ParseFilelists(&out, want, func(pkgid, path string) { got = append(got, pkgid+" "+path) }); err != nil {
			t.Fatalf("filelists.xml written by writeFilelists does not parse: %v\n%s", err, out.Bytes())
		}
		if wantGot := []string{"00aa " + paths[0], "11bb " + paths[1]}; !slices.Equal(got, wantGot) {
			t.Fatalf("read back %q, want %q", got, wantGot)
		}
	})
}

// TestPrimaryChecksumIsHex: a checksum that is not hex (here one holding
// markup, which writePrimary used to copy into its XML unescaped) is
// refused with the package's name; found through FuzzPrimary, whose
// corpus keeps the case (testdata/fuzz/FuzzPrimary/checksum-markup).
func TestPrimaryChecksumIsHex(t *testing.T) {
	_, err := parseAll(t, []byte(`<metadata><package><name>a</name><checksum>a&lt;b</checksum><location href="a.rpm"/></package></metadata>`))
	if err == nil || !strings.Contains(err.Error(), `package "a" has checksum "a<b", which is not hex`) {
		t.Errorf("ParsePrimary = %v, want a refusal of the checksum", err)
	}
	var b bytes.Buffer
	if err := writePrimary(&b, []*rpm.Package{{Name: "a", Location: "a.rpm", Checksum: rpm.Checksum{Value: `"<&`}}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<checksum type="sha256" pkgid="YES">&quot;&lt;&amp;</checksum>`) {
		t.Errorf("writePrimary does not escape the checksum:\n%s", b.String())
	}
}
