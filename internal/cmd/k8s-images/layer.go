package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// epoch is the modification time of every file in every layer.
var epoch = time.Unix(0, 0).UTC()

// entry is one file, directory or symlink of a layer.
type entry struct {
	Path     string // absolute path in the image
	Src      string // regular file: copy this host file (symlinks followed)
	Data     []byte // regular file: or these bytes
	Link     string // symlink target
	Dir      bool
	Mode     int64
	UID, GID int
}

// writeLayer writes the entries as a gzip-compressed tar to w: parent
// directories added, sorted by path, owner root unless given, mtime epoch.
// A path given twice must be given the same way.
func writeLayer(w io.Writer, entries []entry) error {
	byPath := map[string]entry{}
	for _, e := range entries {
		p := path.Clean(e.Path)
		if !path.IsAbs(p) || p == "/" {
			return fmt.Errorf("layer entry %q: want an absolute path below /", e.Path)
		}
		e.Path = p
		if prev, ok := byPath[p]; ok && (prev.Src != e.Src || prev.Link != e.Link || prev.Dir != e.Dir || string(prev.Data) != string(e.Data)) {
			return fmt.Errorf("layer entry %s given twice, differently", p)
		}
		byPath[p] = e
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = entry{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, p := range paths {
		if err := writeEntry(tw, byPath[p]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeEntry(tw *tar.Writer, e entry) error {
	h := &tar.Header{
		Name: strings.TrimPrefix(e.Path, "/"), Mode: e.Mode, Uid: e.UID, Gid: e.GID,
		ModTime: epoch, Format: tar.FormatPAX,
	}
	switch {
	case e.Dir:
		h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		return tw.WriteHeader(h)
	case e.Link != "":
		h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.Link, 0o777
		return tw.WriteHeader(h)
	case e.Src != "":
		f, err := os.Open(e.Src)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", e.Src)
		}
		h.Typeflag, h.Size = tar.TypeReg, st.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		n, err := io.Copy(tw, bufio.NewReaderSize(f, 1<<20))
		if err == nil && n != st.Size() {
			err = fmt.Errorf("%s changed size while read", e.Src)
		}
		return err
	default:
		h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(e.Data)
		return err
	}
}
