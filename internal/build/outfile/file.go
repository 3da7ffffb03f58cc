// Package outfile owns the files a bundle is written to before it has its
// name: a temporary file next to the final path, or one per part when the
// bundle is split (a part ends where the next frame would not fit it, as
// internal/bundle/parts decides), whose writeback starts as they fill, so
// that the fsync before the rename finds little left to do. Commit makes
// them durable and gives them their names (parts.Commit); Remove deletes
// them after a failure. What goes into them is package build's.
package outfile

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/factory-appliance/appliance/internal/bundle/parts"
)

// File is a bundle being written: its temporary files, in order.
type File struct {
	parts   []*os.File // temporary files, in order
	final   string
	split   int64         // largest part, 0 for one file
	cutter  *parts.Cutter // where parts end, nil for one file
	cur     int64         // bytes in the last part
	flushed int64         // bytes of the last part whose writeback was started
	n       int64
}

// Create makes final's directory and the first temporary file there; split,
// when above 0, is the largest part.
func Create(final string, split int64) (*File, error) {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &File{final: final, split: split}
	if split > 0 {
		o.cutter = parts.NewCutter(split)
	}
	if err := o.newPart(); err != nil {
		return nil, err
	}
	return o, nil
}

// Write appends to the last part. The bundle writer hands over each frame
// (and the seek table) in one Write, so a new part starts at a frame
// boundary, when the frame would not fit the current one.
func (o *File) Write(p []byte) (int, error) {
	if o.cutter != nil {
		next, err := o.cutter.Add(int64(len(p)))
		if err != nil {
			return 0, err
		}
		if next {
			if err := o.newPart(); err != nil {
				return 0, err
			}
		}
	}
	f := o.parts[len(o.parts)-1]
	n, err := f.Write(p)
	o.n += int64(n)
	o.cur += int64(n)
	if err == nil && o.cur-o.flushed >= flushEvery {
		// Start writing back what is written so far, without waiting for
		// it, so that the fsync before the rename finds little left to do.
		_ = unix.SyncFileRange(int(f.Fd()), o.flushed, o.cur-o.flushed, unix.SYNC_FILE_RANGE_WRITE)
		o.flushed = o.cur
	}
	return n, err
}

// flushEvery is how many bytes of a part are written between two requests
// to start their writeback.
const flushEvery = 64 << 20

// newPart starts the next temporary part.
func (o *File) newPart() error {
	f, err := os.CreateTemp(filepath.Dir(o.final), "."+filepath.Base(o.final)+".tmp-*")
	if err != nil {
		return err
	}
	o.parts = append(o.parts, f)
	o.cur, o.flushed = 0, 0
	return nil
}

// Size is the number of bytes written, over all parts.
func (o *File) Size() int64 { return o.n }

// Parts are the temporary files, in order: nil once they were committed,
// removed or released.
func (o *File) Parts() []*os.File { return o.parts }

// Split reports whether the bundle is written as parts.
func (o *File) Split() bool { return o.split > 0 }

// Commit syncs the files (a bundle must be durable before it has its
// name), renames them into place, and removes what an earlier build left
// under the same name in the other form (a single file, or more parts), so
// that the name opens exactly this bundle. It returns the final names.
func (o *File) Commit() ([]string, error) {
	names, err := parts.Commit(o.parts, o.final, o.split > 0, true)
	o.parts = nil
	return names, err
}

// Remove closes and removes the temporary files.
func (o *File) Remove() {
	for _, f := range o.parts {
		f.Close()
		os.Remove(f.Name())
	}
	o.parts = nil
}

// Release forgets the temporary files, which the caller moved elsewhere.
func (o *File) Release() { o.parts = nil }
