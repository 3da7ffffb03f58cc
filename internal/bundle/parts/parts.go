// Package parts owns split bundles: a bundle cut into NAME.001,
// NAME.002, ... for removable media (FAT32 stops at 4 GiB). It names the
// parts and finds them (refusing a later part, and naming every part that
// is missing), reads them as one file without joining them, decides where
// a bundle is cut (Cutter: only where a frame ends, so each part is a
// valid zstd file on its own), and commits the written parts under their
// names, removing what an earlier bundle of that name left. It knows
// nothing of the bundle format beyond the seekable footer magic that ends
// the last part; package bundle opens split bundles through it.
package parts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/seekable"
)

// A bundle may be split into parts for removable media (FAT32 stops at
// 4 GiB): NAME.001, NAME.002, ... Their concatenation is the bundle, byte
// for byte, and every part ends at a frame boundary, so each part is a
// valid zstd file on its own. Readers open the parts as one file, without
// joining them.

// Max bounds the parts of a split bundle (three-digit suffixes).
const Max = 999

// Name returns the name of part i (from 1) of a bundle split at name.
func Name(name string, i int) string { return fmt.Sprintf("%s.%03d", name, i) }

var partSuffix = regexp.MustCompile(`\.([0-9]{3})$`)

// IsPart reports whether path is named like a part: it ends in a
// three-digit suffix, NAME.NNN.
func IsPart(path string) bool { return partSuffix.MatchString(path) }

// Files returns the files a bundle named path is made of: path itself, or,
// when path is the first part of a split bundle (NAME.001) or names a split
// bundle whose parts exist (NAME, with NAME.001 and no file NAME), every
// part in order. It refuses a later part (open the first one), and names
// the parts missing when the first part is missing or there is a gap. A
// missing last part cannot be seen from the names; CheckLast finds it.
func Files(path string) ([]string, error) {
	base := path
	if m := partSuffix.FindStringSubmatch(path); m != nil {
		base = path[:len(path)-4]
		if m[1] != "001" {
			if _, err := os.Stat(Name(base, 1)); err != nil && errors.Is(err, fs.ErrNotExist) {
				return nil, missingParts(base, 0)
			}
			n, _ := strconv.Atoi(m[1])
			return nil, fmt.Errorf("%s is part %d of a split bundle; open its first part, %s", path, n, Name(base, 1))
		}
	} else if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return []string{path}, nil
	} else if _, err := os.Stat(Name(path, 1)); err != nil {
		if len(partsPresent(path)) > 0 {
			return nil, missingParts(path, 0)
		}
		return []string{path}, nil // let the open report the missing file
	}
	var parts []string
	for i := 1; i <= Max; i++ {
		p := Name(base, i)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			return nil, err
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		if len(partsPresent(base)) > 0 {
			return nil, missingParts(base, 0)
		}
		return nil, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
	}
	// A later part with no part before it means a part is missing.
	if present := partsPresent(base); len(present) > 0 && present[len(present)-1] > len(parts) {
		return nil, missingParts(base, len(parts))
	}
	return parts, nil
}

// partsPresent returns the numbers of the parts of the split bundle base
// found in its directory, in order (nil when it cannot be read).
func partsPresent(base string) []int {
	ents, err := os.ReadDir(filepath.Dir(base))
	if err != nil {
		return nil
	}
	prefix := filepath.Base(base) + "."
	var nums []int
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || len(rest) != 3 || !partSuffix.MatchString("."+rest) {
			continue
		}
		if n, _ := strconv.Atoi(rest); n >= 1 {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums
}

// missingParts is the error for a split bundle whose parts after the first
// have (numbers 1 to have are present and in order) and before its last
// present part are missing.
func missingParts(base string, have int) error {
	present := partsPresent(base)
	var missing, found []string
	next := have + 1
	for _, n := range present {
		if n <= have {
			continue
		}
		for ; next < n; next++ {
			missing = append(missing, Name(base, next))
		}
		next = n + 1
		found = append(found, Name(base, n))
	}
	if len(missing) == 0 { // the directory changed under us
		missing = append(missing, Name(base, have+1))
	}
	what := "part " + missing[0] + " is missing"
	if len(missing) > 1 {
		what = fmt.Sprintf("parts %s are missing", listNames(missing))
	}
	if have == 0 {
		what = "its first " + what
	}
	return fmt.Errorf("split bundle %s: %s (found %s); copy every part, %s to the last, into one directory and open %s",
		base, what, listNames(found), Name(base, 1), Name(base, 1))
}

// listNames joins names, eliding the middle of a long list.
func listNames(names []string) string {
	if len(names) > 6 {
		return fmt.Sprintf("%s, ... %s (%d)", strings.Join(names[:3], ", "), strings.Join(names[len(names)-2:], ", "), len(names))
	}
	return strings.Join(names, ", ")
}

// CheckLast refuses a split bundle whose last part present does not
// end with the seek table, which ends the last part: the part after it is
// missing, or it was cut short.
func CheckLast(base string, parts []string) error {
	last := parts[len(parts)-1]
	f, err := os.Open(last)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var tail [4]byte
	if st.Size() >= int64(len(tail)) {
		if _, err := f.ReadAt(tail[:], st.Size()-int64(len(tail))); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(tail[:]) == seekable.FooterMagic {
			return nil
		}
	}
	return fmt.Errorf("split bundle %s: %s does not end with the bundle's seek table, which ends the last part: "+
		"part %s (and any after it) is missing, or %s was cut short; copy every part whole, %s to the last, into one directory",
		base, last, Name(base, len(parts)+1), last, Name(base, 1))
}

// File reads the concatenation of several files, the parts of a split
// bundle, as one: an io.ReaderAt safe for concurrent use, as *os.File is.
type File struct {
	files  []*os.File
	starts []int64 // starts[i] is where file i begins
	ends   []int64 // ends[i] is the offset just past file i
}

// Open opens the files at paths as one File, and returns its size (the
// sum of theirs). Close the File to close them.
func Open(paths []string) (*File, int64, error) {
	m := &File{}
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

// ReadAt reads len(p) bytes at off of the concatenation.
func (m *File) ReadAt(p []byte, off int64) (int, error) {
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

// Close closes every file.
func (m *File) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Commit makes the temporary files tmps the bundle named final: each
// is synced (a bundle must be durable before it has its name), made 0644,
// closed and renamed to final (one file, when split is false) or to its
// part names. Then it removes what an earlier bundle of that name left in
// the other form, so that the name opens exactly this bundle: every part
// when not split, parts beyond these when split, and, when split and
// removeWhole, the single file final. On error the temporary files not yet
// renamed are removed. It returns the final names.
func Commit(tmps []*os.File, final string, split, removeWhole bool) ([]string, error) {
	if !split && len(tmps) != 1 {
		return nil, fmt.Errorf("bundle: %d files for the unsplit bundle %s", len(tmps), final)
	}
	names := []string{final}
	if split {
		names = names[:0]
		for i := range tmps {
			names = append(names, Name(final, i+1))
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
	for i := from; i <= Max; i++ {
		p := Name(final, i)
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

// Cutter decides where a bundle split into parts of at most a given
// size is cut: a part ends where the next piece (a zstd frame, or the seek
// table) would not fit in it, so no piece straddles two parts, and each
// part is a valid zstd file on its own. Both the bundle writer's split
// output and split.Split cut with it.
type Cutter struct {
	size  int64
	cur   int64 // bytes in the current part
	parts int
}

// NewCutter returns a cutter for parts of at most size bytes; the
// first part is already started.
func NewCutter(size int64) *Cutter { return &Cutter{size: size, parts: 1} }

// Add accounts for the next piece, of n bytes, and reports whether it
// starts a new part. A piece larger than a part, or a bundle that would
// need more than Max parts, is an error that names the fix.
func (c *Cutter) Add(n int64) (newPart bool, err error) {
	if n > c.size {
		return false, fmt.Errorf("a piece of %d bytes does not fit a part of %d bytes; split at a larger size", n, c.size)
	}
	if c.cur > 0 && c.cur+n > c.size {
		if c.parts == Max {
			return false, fmt.Errorf("the bundle needs more than %d parts; split at a larger size", Max)
		}
		c.parts++
		c.cur, newPart = 0, true
	}
	c.cur += n
	return newPart, nil
}
