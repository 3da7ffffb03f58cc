// Package split copies a bundle file into parts for removable media
// (`bundle split`): NAME.001, NAME.002, ... of at most a given size, cut
// where a zstd frame ends, so each part is a valid zstd file and cat joins
// them into the bundle again. Package parts names, cuts (Cutter) and
// commits the parts; this package reads where the frames of an opened
// bundle end (bundle.Reader.Frames) and copies the bytes.
package split

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/parts"
)

// frameCuts returns where each part of r split at size ends, the last at
// r's end: after the frames, the seek table is the last piece.
func frameCuts(r *bundle.Reader, size int64) ([]int64, error) {
	c := parts.NewCutter(size)
	var cuts []int64
	var end int64
	for i, f := range r.Frames() {
		cut, err := c.Add(f.Offset + f.CompressedSize - end)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i, err)
		}
		if cut {
			cuts = append(cuts, f.Offset)
		}
		end = f.Offset + f.CompressedSize
	}
	cut, err := c.Add(r.Size() - end)
	if err != nil {
		return nil, fmt.Errorf("the seek table: %w", err)
	}
	if cut {
		cuts = append(cuts, end)
	}
	return append(cuts, r.Size()), nil
}

// Split copies the bundle at path, which must be one file, into parts of
// at most size bytes named out.001, out.002, ..., cut where a frame ends
// (the seek table and the frames before it never straddle two parts). It
// checks the bundle's structure first (bundle.Open), copies in the kernel
// where the system allows, writes under temporary names and renames at the
// end, and leaves path as it is. It returns the part names.
func Split(path string, size int64, out string) ([]string, error) {
	files, err := parts.Files(path)
	if err != nil {
		return nil, err
	}
	if len(files) != 1 {
		return nil, fmt.Errorf("%s is already split into %d parts; join them with cat first", path, len(files))
	}
	r, err := bundle.Open(path)
	if err != nil {
		return nil, err
	}
	cuts, err := frameCuts(r, size)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
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
			return nil, fmt.Errorf("writing %s: %w", parts.Name(out, len(tmps)), err)
		}
		off = cut
	}
	return parts.Commit(tmps, out, true, false)
}
