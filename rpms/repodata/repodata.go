package repodata

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"

	"github.com/factory-appliance/appliance/internal/atomicfile"
	"github.com/factory-appliance/appliance/internal/countio"
	"github.com/klauspost/compress/gzip"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// changelogLimit is how many changelog entries other.xml keeps per package,
// as createrepo_c does by default.
const changelogLimit = 10

// Options tunes Generate.
type Options struct {
	// Revision is repomd.xml's <revision>; default: the newest package
	// build time, so the same packages always give the same bytes.
	Revision string
	// Timestamp is every <timestamp>; default: the newest build time.
	Timestamp int64
}

// EmitFunc receives one generated file: name is relative to the repository
// root ("repodata/repomd.xml", "repodata/<sha256>-primary.xml.gz", ...).
type EmitFunc func(name string, size int64, r io.Reader) error

// Generate writes yum repodata for pkgs through emit: primary, filelists
// and other as gzip-compressed XML named by their sha256, then repomd.xml,
// all with sha256 checksums, as CentOS 7's yum 3 reads them.
// The output is reproducible: packages are sorted, gzip headers carry no
// name or time, and times come from the packages' build times.
//
// pkgs must come from rpmfile.ReadPackage or ReadPackageFile (full file
// lists, changelogs and sha256 checksums); Location is the href, and
// defaults to "Packages/" + FileName(). Memory holds the compressed
// metadata (a few MiB for thousands of packages), never the packages.
func Generate(pkgs []*rpm.Package, emit EmitFunc, opts Options) error {
	sorted, err := sortForRepodata(pkgs)
	if err != nil {
		return err
	}
	opts = defaultRepodataOptions(sorted, opts)
	kinds := []struct {
		kind  string
		write func(io.Writer, []*rpm.Package) error
	}{{"primary", writePrimary}, {"filelists", writeFilelists}, {"other", writeOther}}
	files := make([]*mdFile, len(kinds))
	errs := make([]error, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			files[i], errs[i] = compressXML(k.kind, sorted, k.write)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := emit(f.name(), int64(f.gz.Len()), bytes.NewReader(f.gz.Bytes())); err != nil {
			return err
		}
	}
	var md bytes.Buffer
	writeRepomd(&md, files, opts)
	return emit("repodata/repomd.xml", int64(md.Len()), &md)
}

// Write writes the repodata for pkgs under dir/repodata, replacing any
// there. Each file is written to a temporary name and renamed.
func Write(dir string, pkgs []*rpm.Package, opts Options) error {
	md := filepath.Join(dir, "repodata")
	if err := os.RemoveAll(md); err != nil {
		return err
	}
	if err := os.MkdirAll(md, 0o755); err != nil {
		return err
	}
	return Generate(pkgs, func(name string, _ int64, r io.Reader) error {
		return atomicfile.WriteFrom(filepath.Join(dir, name), r, 0o644)
	}, opts)
}

func sortForRepodata(pkgs []*rpm.Package) ([]*rpm.Package, error) {
	out := append([]*rpm.Package(nil), pkgs...)
	for _, p := range out {
		if p.Checksum.Type != "sha256" {
			return nil, fmt.Errorf("%s: repodata needs the package's sha256 (read it with ReadPackage), have %s", p.NEVRA(), p.Checksum.Type)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if c := rpm.CompareEVR(a.EVR, b.EVR); c != 0 {
			return c < 0
		}
		if a.Arch != b.Arch {
			return a.Arch < b.Arch
		}
		return href(a) < href(b)
	})
	return out, nil
}

func defaultRepodataOptions(pkgs []*rpm.Package, o Options) Options {
	var newest int64
	for _, p := range pkgs {
		newest = max(newest, p.BuildTime)
	}
	if o.Timestamp == 0 {
		o.Timestamp = newest
	}
	if o.Revision == "" {
		o.Revision = strconv.FormatInt(newest, 10)
	}
	return o
}

func href(p *rpm.Package) string {
	if p.Location != "" {
		return p.Location
	}
	return "Packages/" + p.FileName()
}

// mdFile is one compressed metadata file and its checksums.
type mdFile struct {
	kind     string
	gz       bytes.Buffer
	sum      string // sha256 of gz
	openSum  string
	openSize int64
}

func (f *mdFile) name() string { return "repodata/" + f.sum + "-" + f.kind + ".xml.gz" }

func compressXML(kind string, pkgs []*rpm.Package, write func(io.Writer, []*rpm.Package) error) (*mdFile, error) {
	f := &mdFile{kind: kind}
	zw, err := gzip.NewWriterLevel(&f.gz, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	open := sha256.New()
	cw := &countio.Writer{W: io.MultiWriter(zw, open)}
	bw := bufio.NewWriterSize(cw, 256<<10)
	if err := write(bw, pkgs); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	s := sha256.Sum256(f.gz.Bytes())
	f.sum, f.openSum, f.openSize = hex.EncodeToString(s[:]), hex.EncodeToString(open.Sum(nil)), cw.N
	return f, nil
}

func writeRepomd(w *bytes.Buffer, files []*mdFile, o Options) {
	w.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	w.WriteString("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n")
	fmt.Fprintf(w, "  <revision>%s</revision>\n", escapeString(o.Revision))
	for _, f := range files {
		fmt.Fprintf(w, "  <data type=\"%s\">\n", f.kind)
		fmt.Fprintf(w, "    <checksum type=\"sha256\">%s</checksum>\n", f.sum)
		fmt.Fprintf(w, "    <open-checksum type=\"sha256\">%s</open-checksum>\n", f.openSum)
		fmt.Fprintf(w, "    <location href=\"%s\"/>\n", f.name())
		fmt.Fprintf(w, "    <timestamp>%d</timestamp>\n", o.Timestamp)
		fmt.Fprintf(w, "    <size>%d</size>\n", f.gz.Len())
		fmt.Fprintf(w, "    <open-size>%d</open-size>\n", f.openSize)
		w.WriteString("  </data>\n")
	}
	w.WriteString("</repomd>\n")
}
