package charts

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/countio"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/ignore"
	"sigs.k8s.io/yaml"
)

// Limits on a local chart directory, the same as Helm's loader applies to
// an archive, so a chart we package is one Helm can load.
const (
	maxChartFileSize = 5 << 20   // one file
	maxChartSize     = 100 << 20 // all files together
)

// packageEpoch is the modification time of every entry of a packaged chart:
// fixed, so that packaging is reproducible.
var packageEpoch = time.Unix(0, 0).UTC()

// ChartMeta is what a packaged chart declares about itself in Chart.yaml.
type ChartMeta struct {
	Name    string
	Version string
}

// Package writes the chart in directory dir of fsys to w as a Helm chart
// archive (.tgz) and returns its Chart.yaml name and version.
//
// The archive is reproducible: the same directory gives the same bytes.
// Entries are sorted by path under a top directory named after the chart,
// every entry has mtime 1970-01-01, uid/gid 0, no user or group names and
// mode 0644, there are no directory entries, and the gzip header carries
// no name and no time. Files matched by the chart's .helmignore (plus Helm's
// default "templates/.?*") are left out, as `helm package` leaves them out.
// Symbolic links and other non-regular files are refused rather than
// followed, because a link's target is outside what the manifest's tree
// guarantees. Dependencies named in Chart.yaml must be present in charts/.
func Package(fsys fs.FS, dir string, w io.Writer) (ChartMeta, error) {
	meta, err := readChartYAML(fsys, dir)
	if err != nil {
		return ChartMeta{}, err
	}
	files, err := chartFiles(fsys, dir)
	if err != nil {
		return ChartMeta{}, err
	}
	if err := checkVendored(meta, files); err != nil {
		return ChartMeta{}, fmt.Errorf("chart %s: %w", dir, err)
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return ChartMeta{}, err
	}
	// The zero gzip.Header: no name, no comment, no mtime, OS "unknown".
	tw := tar.NewWriter(zw)
	for _, f := range files {
		if err := addFile(tw, fsys, dir, meta.Name, f); err != nil {
			return ChartMeta{}, fmt.Errorf("chart %s: %w", dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return ChartMeta{}, err
	}
	if err := zw.Close(); err != nil {
		return ChartMeta{}, err
	}
	return ChartMeta{Name: meta.Name, Version: meta.Version}, nil
}

// readChartYAML reads and validates dir/Chart.yaml.
func readChartYAML(fsys fs.FS, dir string) (*chart.Metadata, error) {
	data, err := readLimited(fsys, path.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w; a chart directory needs a Chart.yaml", dir, err)
	}
	meta := new(chart.Metadata)
	if err := yaml.Unmarshal(data, meta); err != nil {
		return nil, fmt.Errorf("chart %s: Chart.yaml: %w", dir, err)
	}
	if meta.APIVersion == "" {
		meta.APIVersion = chart.APIVersionV1
	}
	if err := meta.Validate(); err != nil {
		return nil, fmt.Errorf("chart %s: Chart.yaml: %w", dir, err)
	}
	return meta, nil
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxChartFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxChartFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxChartFileSize)
	}
	return data, nil
}

// chartFile is one regular file of a chart directory, by its path relative
// to the chart's root.
type chartFile struct {
	rel  string
	size int64
}

// chartFiles lists the files of the chart in dir, in lexical order,
// without those .helmignore excludes.
func chartFiles(fsys fs.FS, dir string) ([]chartFile, error) {
	rules, err := ignoreRules(fsys, dir)
	if err != nil {
		return nil, err
	}
	var files []chartFile
	var total int64
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel := strings.TrimPrefix(p, dir+"/")
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if rules.Ignore(rel, fi) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			return nil
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link, not a regular file; replace the link by the file, or list it in .helmignore", rel)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file (%s); replace it by a regular file, or list it in .helmignore", rel, fi.Mode().Type())
		case fi.Size() > maxChartFileSize:
			return fmt.Errorf("%s is larger than Helm's limit of %d bytes per file", rel, maxChartFileSize)
		}
		total += fi.Size()
		if total > maxChartSize {
			return fmt.Errorf("the chart is larger than Helm's limit of %d bytes", maxChartSize)
		}
		files = append(files, chartFile{rel: rel, size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	return files, nil
}

func ignoreRules(fsys fs.FS, dir string) (*ignore.Rules, error) {
	data, err := readLimited(fsys, path.Join(dir, ".helmignore"))
	var rules *ignore.Rules
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rules = ignore.Empty()
	case err != nil:
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	default:
		if rules, err = ignore.Parse(strings.NewReader(string(data))); err != nil {
			return nil, fmt.Errorf("chart %s: .helmignore: %w", dir, err)
		}
	}
	rules.AddDefaults()
	return rules, nil
}

// checkVendored refuses a chart whose Chart.yaml names a dependency that is
// not in its charts/ directory: the build has no network access to the
// dependency's repository, and Helm would fail to render it.
func checkVendored(meta *chart.Metadata, files []chartFile) error {
	var vendored []string // first element under charts/: a directory or a .tgz
	for _, f := range files {
		if rest, ok := strings.CutPrefix(f.rel, "charts/"); ok {
			top, _, _ := strings.Cut(rest, "/")
			vendored = append(vendored, top)
		}
	}
	for _, d := range meta.Dependencies {
		if !slices.ContainsFunc(vendored, func(v string) bool {
			return v == d.Name || (strings.HasPrefix(v, d.Name+"-") && strings.HasSuffix(v, ".tgz"))
		}) {
			return fmt.Errorf("dependency %s is not in charts/; run `helm dependency build` and keep charts/ with the chart", d.Name)
		}
	}
	return nil
}

func addFile(tw *tar.Writer, fsys fs.FS, dir, top string, f chartFile) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     top + "/" + f.rel,
		Mode:     0o644,
		Size:     f.size,
		ModTime:  packageEpoch,
		Format:   tar.FormatPAX,
	}
	if len(hdr.Name) <= 100 {
		hdr.Format = tar.FormatUSTAR
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	r, err := fsys.Open(path.Join(dir, f.rel))
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := io.Copy(tw, io.LimitReader(r, f.size+1))
	if err != nil {
		return fmt.Errorf("%s: %w", f.rel, err)
	}
	if n != f.size {
		return fmt.Errorf("%s changed while it was packaged", f.rel)
	}
	return nil
}

// packageToFile packages the chart into a temporary file and returns it,
// rewound, with the archive's digest and size. The caller closes and
// removes the file. On error no file is left behind.
func packageToFile(fsys fs.FS, dir string) (*os.File, ChartMeta, string, int64, error) {
	f, err := os.CreateTemp("", "chart-*.tgz")
	if err != nil {
		return nil, ChartMeta{}, "", 0, fmt.Errorf("chart %s: %w", dir, err)
	}
	fail := func(err error) (*os.File, ChartMeta, string, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, ChartMeta{}, "", 0, err
	}
	h := sha256.New()
	cw := &countio.Writer{W: io.MultiWriter(f, h)}
	meta, err := Package(fsys, dir, cw)
	if err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("chart %s: %w", dir, err))
	}
	return f, meta, "sha256:" + hex.EncodeToString(h.Sum(nil)), cw.N, nil
}

// checkArchive refuses a chart archive (.tgz) holding an entry a packaged
// local chart could never hold: a symbolic or hard link, a device or any
// other non-regular file, an absolute path or a path with a ".." element.
// Helm's loader reads such an archive without complaint (it drops the top
// directory, so "/etc/x" and "../x" load as chart files, and a link loads as
// an empty file), but the bundle would then carry it to the site as it is,
// where `helm` or `tar -x` would follow it. It reads the whole archive.
func checkArchive(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if msg := archiveEntryProblem(h); msg != "" {
			return &badEntryError{name: h.Name, msg: msg}
		}
	}
	_, err = io.Copy(io.Discard, zr)
	return err
}

// badEntryError is an entry of a chart archive that checkArchive refuses.
type badEntryError struct{ name, msg string }

func (e *badEntryError) Error() string {
	return fmt.Sprintf("archive entry %q %s", clip(e.name), e.msg)
}

// archiveEntryProblem says what is wrong with one entry of a chart archive,
// or "" when nothing is.
func archiveEntryProblem(h *tar.Header) string {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeXGlobalHeader: // the reader gives TypeRegA as TypeReg
	case tar.TypeSymlink:
		return fmt.Sprintf("is a symbolic link to %q; a chart holds regular files only", clip(h.Linkname))
	case tar.TypeLink:
		return fmt.Sprintf("is a hard link to %q; a chart holds regular files only", clip(h.Linkname))
	default:
		return fmt.Sprintf("is not a regular file (tar type %q); a chart holds regular files only", h.Typeflag)
	}
	name := strings.ReplaceAll(h.Name, "\\", "/") // Helm reads a backslash as a separator too
	switch {
	case strings.HasPrefix(name, "/") || len(name) >= 2 && name[1] == ':':
		return "has an absolute path"
	case slices.Contains(strings.Split(name, "/"), ".."):
		return `has a ".." element in its path`
	}
	return ""
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + fmt.Sprintf("... (%d bytes)", len(s))
}
