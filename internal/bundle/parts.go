package bundle

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	files []*os.File
	ends  []int64 // ends[i] is the offset just past file i
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
		start := m.ends[i] - fileSize(m, i)
		k, err := m.files[i].ReadAt(p[n:min(len(p), n+int(m.ends[i]-at))], at-start)
		n += k
		if err != nil && !(errors.Is(err, io.EOF) && at+int64(k) == m.ends[i]) {
			return n, err
		}
	}
	return n, nil
}

func fileSize(m *multiFile, i int) int64 {
	if i == 0 {
		return m.ends[0]
	}
	return m.ends[i] - m.ends[i-1]
}

func (m *multiFile) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
