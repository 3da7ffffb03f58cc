package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

// A bundle may be split into parts for removable media (FAT32 stops at
// 4 GiB): NAME.001, NAME.002, ... Their concatenation is the bundle, byte
// for byte, and every part ends at a frame boundary, so each part is a
// valid zstd file on its own. Readers open the parts as one file, without
// joining them.

// MaxParts bounds the parts of a split bundle (three-digit suffixes).
const MaxParts = 999

// PartName returns the name of part i (from 1) of a bundle split at name.
func PartName(name string, i int) string { return fmt.Sprintf("%s.%03d", name, i) }

var partSuffix = regexp.MustCompile(`\.([0-9]{3})$`)

// Parts returns the files a bundle named path is made of: path itself, or,
// when path is the first part of a split bundle (NAME.001) or names a split
// bundle whose parts exist (NAME, with NAME.001 and no file NAME), every
// part in order. It refuses a later part (open the first one) and a gap.
func Parts(path string) ([]string, error) {
	base := path
	if m := partSuffix.FindStringSubmatch(path); m != nil {
		if m[1] != "001" {
			n, _ := strconv.Atoi(m[1])
			return nil, fmt.Errorf("%s is part %d of a split bundle; open its first part, %s", path, n, PartName(path[:len(path)-4], 1))
		}
		base = path[:len(path)-4]
	} else if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return []string{path}, nil
	} else if _, err := os.Stat(PartName(path, 1)); err != nil {
		return []string{path}, nil // let the open report the missing file
	}
	var parts []string
	for i := 1; i <= MaxParts; i++ {
		p := PartName(base, i)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			return nil, err
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	// A later part with no part before it means a part is missing.
	if extra, _ := os.Stat(PartName(base, len(parts)+2)); extra != nil {
		return nil, fmt.Errorf("split bundle %s: part %s is missing; copy every part", base, PartName(base, len(parts)+1))
	}
	return parts, nil
}

// multiFile reads the concatenation of several files.
type multiFile struct {
	files  []*os.File
	starts []int64 // starts[i] is where file i begins
	ends   []int64 // ends[i] is the offset just past file i
}

func openMulti(paths []string) (*multiFile, int64, error) {
	m := &multiFile{}
	var total int64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			m.Close()
			return nil, 0, err
		}
		m.files = append(m.files, f)
		st, err := f.Stat()
		if err != nil {
			m.Close()
			return nil, 0, err
		}
		m.starts = append(m.starts, total)
		total += st.Size()
		m.ends = append(m.ends, total)
	}
	return m, total, nil
}

func (m *multiFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		at := off + int64(n)
		i := sort.Search(len(m.ends), func(i int) bool { return m.ends[i] > at })
		if i == len(m.ends) {
			return n, io.EOF
		}
		k, err := m.files[i].ReadAt(p[n:min(len(p), n+int(m.ends[i]-at))], at-m.starts[i])
		n += k
		if err != nil && !(errors.Is(err, io.EOF) && at+int64(k) == m.ends[i]) {
			return n, err
		}
	}
	return n, nil
}

func (m *multiFile) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// CommitParts makes the temporary files tmps the bundle named final: each
// is synced (a bundle must be durable before it has its name), made 0644,
// closed and renamed to final (one file, when split is false) or to its
// part names. Then it removes what an earlier bundle of that name left in
// the other form, so that the name opens exactly this bundle: every part
// when not split, parts beyond these when split, and, when split and
// removeWhole, the single file final. On error the temporary files not yet
// renamed are removed. It returns the final names.
func CommitParts(tmps []*os.File, final string, split, removeWhole bool) ([]string, error) {
	if !split && len(tmps) != 1 {
		return nil, fmt.Errorf("bundle: %d files for the unsplit bundle %s", len(tmps), final)
	}
	names := []string{final}
	if split {
		names = names[:0]
		for i := range tmps {
			names = append(names, PartName(final, i+1))
		}
	}
	fail := func(from int, err error) ([]string, error) {
		for _, f := range tmps[from:] {
			f.Close()
			os.Remove(f.Name())
		}
		return nil, err
	}
	for i, f := range tmps {
		if err := f.Sync(); err != nil {
			return fail(i, err)
		}
		if err := f.Chmod(0o644); err != nil {
			return fail(i, err)
		}
	}
	var stale []string
	from := 1
	if split {
		from = len(names) + 1
		if removeWhole {
			stale = append(stale, final)
		}
	}
	for i := from; i <= MaxParts; i++ {
		p := PartName(final, i)
		if _, err := os.Lstat(p); err != nil {
			break
		}
		stale = append(stale, p)
	}
	for i, f := range tmps {
		if err := f.Close(); err != nil {
			return fail(i, err)
		}
		if err := os.Rename(f.Name(), names[i]); err != nil {
			os.Remove(f.Name())
			return fail(i+1, err)
		}
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return names, fmt.Errorf("removing %s, left by an earlier bundle of that name: %w", p, err)
		}
	}
	return names, nil
}

// Split copies the bundle at path, which must be one file, into parts of
// at most size bytes named out.001, out.002, ..., cut where a frame ends
// (the seek table and the frames before it never straddle two parts). It
// checks the bundle's structure first (Open), copies in the kernel where
// the system allows, writes under temporary names and renames at the end,
// and leaves path as it is. It returns the part names.
func Split(path string, size int64, out string) ([]string, error) {
	parts, err := Parts(path)
	if err != nil {
		return nil, err
	}
	if len(parts) != 1 {
		return nil, fmt.Errorf("%s is already split into %d parts; join them with cat first", path, len(parts))
	}
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	var cuts []int64 // where each part ends
	var start, end int64
	for i := range r.sr.NumFrames() {
		f := r.sr.Frame(i)
		if f.CompressedSize > size {
			r.Close()
			return nil, fmt.Errorf("%s: frame %d has %d bytes, more than a part of %d; split at a larger size", path, i, f.CompressedSize, size)
		}
		if f.Offset+f.CompressedSize-start > size {
			cuts, start = append(cuts, f.Offset), f.Offset
		}
		end = f.Offset + f.CompressedSize
	}
	total := r.Size()
	r.Close()
	if total-end > size {
		return nil, fmt.Errorf("%s: its seek table has %d bytes, more than a part of %d; split at a larger size", path, total-end, size)
	}
	if total-start > size {
		cuts = append(cuts, end)
	}
	cuts = append(cuts, total)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var tmps []*os.File
	cleanup := func() {
		for _, f := range tmps {
			f.Close()
			os.Remove(f.Name())
		}
	}
	var off int64
	for _, cut := range cuts {
		f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
		if err != nil {
			cleanup()
			return nil, err
		}
		tmps = append(tmps, f)
		if _, err := src.Seek(off, io.SeekStart); err != nil {
			cleanup()
			return nil, err
		}
		if _, err := io.CopyN(f, src, cut-off); err != nil {
			cleanup()
			return nil, fmt.Errorf("writing %s: %w", PartName(out, len(tmps)), err)
		}
		off = cut
	}
	return CommitParts(tmps, out, true, false)
}
