// Package packcache owns the bundles the content cache keeps (packs).
//
// A cold build streams the layers it downloads straight into the bundle
// (package build), so they are written once, and the cache does not get a
// copy of its own. Instead, once the bundle is durable and in place, the
// cache keeps it: a hard link to each of its files under the cache
// directory (packs/ID.bundle, or ID.bundle.001, ... for a split bundle; ID
// is the sha256 of its bundle.json), beside a list of the blobs it holds
// (packs/ID.blobs: "DIGEST SIZE" lines). A hard link costs no space while
// the bundle exists under its own name, and keeps the cache's copy when
// the bundle is deleted, moved or replaced by the next build, which is
// what a copy in the cache would do, at no cost in writes. The cache
// serves a pack's blobs like its own files (cas.External): a later build
// reads them out of the pack and, as for any cached object, hashes every
// byte it copies and checks it against the digest the manifest names.
//
// Packs need the cache and the output on one filesystem; a build checks
// that when it opens its output (Linkable), and downloads into the cache
// as before when they are not.
//
// So that a cache never keeps several bundles' worth of the same blobs,
// keeping a pack drops every older pack: the blobs of an older pack that
// the new one lacks (an image the stack no longer has) are first copied
// into the cache as files of their own, checked against their digests,
// and the older pack's list and links then removed.
package packcache

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
)

// Packs are the bundles a content cache keeps, and serve their blobs to
// the cache (cas.External).
type Packs struct {
	dir string // the cache's packs/ directory

	mu      sync.Mutex
	loaded  bool
	where   map[string]packBlob       // digest → where it is
	readers map[string]*bundle.Reader // pack ID → the open pack
}

type packBlob struct {
	id   string
	size int64
}

// New returns the packs of the content cache in cacheDir.
func New(cacheDir string) *Packs {
	return &Packs{dir: filepath.Join(cacheDir, "packs")}
}

func (p *Packs) bundlePath(id string) string { return filepath.Join(p.dir, id+".bundle") }
func (p *Packs) listPath(id string) string   { return filepath.Join(p.dir, id+".blobs") }

// load reads every pack's list, once.
func (p *Packs) load() {
	if p.loaded {
		return
	}
	p.loaded = true
	p.where = map[string]packBlob{}
	p.readers = map[string]*bundle.Reader{}
	lists, _ := filepath.Glob(filepath.Join(p.dir, "*.blobs"))
	sort.Strings(lists)
	for _, l := range lists {
		id := strings.TrimSuffix(filepath.Base(l), ".blobs")
		blobs, err := readList(l)
		if err != nil {
			continue
		}
		for d, size := range blobs {
			p.where[d] = packBlob{id: id, size: size}
		}
	}
}

// readList reads a pack's list of blobs.
func readList(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		d, s, ok := strings.Cut(sc.Text(), " ")
		size, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || size < 0 {
			return nil, fmt.Errorf("%s: malformed line %q", path, sc.Text())
		}
		out[d] = size
	}
	return out, sc.Err()
}

// writeList writes a pack's list atomically.
func writeList(path string, blobs map[string]int64) error {
	ds := make([]string, 0, len(blobs))
	for d := range blobs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	var sb strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&sb, "%s %d\n", d, blobs[d])
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(sb.String()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// Has reports whether a pack holds the blob (cas.External).
func (p *Packs) Has(digest string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	b, ok := p.where[digest]
	return b.size, ok
}

// Open returns the blob's bytes from its pack, unchecked: the build's
// writer hashes them (cas.External).
func (p *Packs) Open(digest string) (io.ReadCloser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	b, ok := p.where[digest]
	if !ok {
		return nil, fmt.Errorf("%s: %w", digest, cas.ErrNotFound)
	}
	r, err := p.reader(b.id)
	if err != nil {
		return nil, &ReadError{fmt.Errorf("%s: in the cache's bundle %s: %w", digest, p.bundlePath(b.id), err)}
	}
	a, ok := r.Lookup("blobs/sha256/" + strings.TrimPrefix(digest, "sha256:"))
	if !ok || a.Digest != digest || a.Size != b.size {
		return nil, &ReadError{fmt.Errorf("%s: the cache's bundle %s does not hold it as its list says", digest, p.bundlePath(b.id))}
	}
	rc, err := r.OpenUnchecked(a)
	if err != nil {
		return nil, &ReadError{err}
	}
	return packReader{rc}, nil
}

// ReadError is a pack whose bytes could not be read back: damage, which
// the build reports as it does a cached object that fails its digest.
type ReadError struct{ err error }

func (e *ReadError) Error() string { return e.err.Error() }
func (e *ReadError) Unwrap() error { return e.err }

// packReader marks read errors as damage.
type packReader struct{ io.ReadCloser }

func (r packReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &ReadError{err}
	}
	return n, err
}

// reader opens a pack once and keeps it open for the build.
func (p *Packs) reader(id string) (*bundle.Reader, error) {
	if r, ok := p.readers[id]; ok {
		return r, nil
	}
	r, err := bundle.Open(p.bundlePath(id))
	if err != nil {
		return nil, err
	}
	p.readers[id] = r
	return r, nil
}

// Remove forgets a blob found damaged (cas.External): it is taken off its
// pack's list, so the next build downloads it again.
func (p *Packs) Remove(digest string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load()
	b, ok := p.where[digest]
	if !ok {
		return nil
	}
	delete(p.where, digest)
	blobs, err := readList(p.listPath(b.id))
	if err != nil {
		return err
	}
	delete(blobs, digest)
	return writeList(p.listPath(b.id), blobs)
}

// Close closes the packs opened.
func (p *Packs) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, r := range p.readers {
		r.Close()
		delete(p.readers, id)
	}
}

// Linkable reports whether files in dir can be hard-linked into the
// packs directory (one filesystem, and one that has hard links), by
// linking f, a file there.
func (p *Packs) Linkable(f *os.File) bool {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return false
	}
	probe := filepath.Join(p.dir, ".probe-"+filepath.Base(f.Name()))
	if err := os.Link(f.Name(), probe); err != nil {
		return false
	}
	os.Remove(probe)
	return true
}

// Keep makes the committed bundle (its files, in order: one, or the parts
// of a split bundle) a pack listing blobs, then drops every older pack
// (see the package's doc). cache takes in the older packs' blobs the new
// one lacks.
func (p *Packs) Keep(index []byte, files []string, blobs map[string]int64, cache *cas.Store) error {
	sum := sha256.Sum256(index)
	id := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	names := []string{p.bundlePath(id)}
	if len(files) > 1 || filepath.Ext(files[0]) == ".001" {
		names = names[:0]
		for i := range files {
			names = append(names, fmt.Sprintf("%s.%03d", p.bundlePath(id), i+1))
		}
	}
	for i, f := range files {
		if err := os.Remove(names[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Link(f, names[i]); err != nil {
			return err
		}
	}
	if err := writeList(p.listPath(id), blobs); err != nil {
		return err
	}
	p.mu.Lock()
	if r, ok := p.readers[id]; ok { // the same bundle, kept again
		r.Close()
		delete(p.readers, id)
	}
	p.mu.Unlock()
	return p.dropOlder(id, blobs, cache)
}

// dropOlder removes every pack but keep, after copying the blobs only it
// holds into the cache as files.
func (p *Packs) dropOlder(keep string, kept map[string]int64, cache *cas.Store) error {
	lists, _ := filepath.Glob(filepath.Join(p.dir, "*.blobs"))
	var errs []error
	for _, l := range lists {
		id := strings.TrimSuffix(filepath.Base(l), ".blobs")
		if id == keep {
			continue
		}
		if err := p.drop(id, kept, cache); err != nil {
			errs = append(errs, err)
		}
	}
	p.mu.Lock()
	p.loaded = false // read the lists again on the next lookup
	p.mu.Unlock()
	return errors.Join(errs...)
}

// drop removes pack id, first copying its blobs that kept lacks into the
// cache (a blob that does not match its digest any more is left out: the
// next build that needs it downloads it).
func (p *Packs) drop(id string, kept map[string]int64, cache *cas.Store) error {
	blobs, err := readList(p.listPath(id))
	if err == nil {
		p.mu.Lock()
		r, rerr := p.reader(id)
		p.mu.Unlock()
		for d, size := range blobs {
			if _, ok := kept[d]; ok || rerr != nil {
				continue
			}
			if path, err := cache.Path(d); err != nil {
				continue
			} else if _, err := os.Stat(path); err == nil {
				continue // a file of the cache already
			}
			a, ok := r.Lookup("blobs/sha256/" + strings.TrimPrefix(d, "sha256:"))
			if !ok {
				continue
			}
			rc, err := r.OpenUnchecked(a)
			if err != nil {
				continue
			}
			// Commit checks the digest and stores nothing on a mismatch.
			if w, err := cache.Writer("blob "+d+" of the cache's bundle "+id, d, size); err == nil {
				if _, err := io.Copy(w, rc); err != nil {
					w.Abort()
				} else {
					_ = w.Commit()
				}
			}
			rc.Close()
		}
	}
	p.mu.Lock()
	if r, ok := p.readers[id]; ok {
		r.Close()
		delete(p.readers, id)
	}
	p.mu.Unlock()
	if err := os.Remove(p.listPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	files, _ := filepath.Glob(p.bundlePath(id) + "*")
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Adopt makes the temporary files of a bundle a failed build finished
// with index (its parts, in order; split when it was being split) a pack
// listing blobs: they are closed and moved into the packs directory, never
// to the output's name. On an error, what was moved is removed again and
// the files not yet moved are left to the caller.
func (p *Packs) Adopt(index []byte, parts []*os.File, split bool, blobs map[string]int64) error {
	sum := sha256.Sum256(index)
	id := hex.EncodeToString(sum[:])
	var moved []string
	undo := func() {
		for _, m := range moved {
			os.Remove(m)
		}
	}
	for i, f := range parts {
		name := p.bundlePath(id)
		if split {
			name = fmt.Sprintf("%s.%03d", name, i+1)
		}
		if err := f.Close(); err != nil {
			undo()
			return err
		}
		if err := os.Rename(f.Name(), name); err != nil {
			undo()
			return err
		}
		moved = append(moved, name)
	}
	if err := writeList(p.listPath(id), blobs); err != nil {
		undo()
		return err
	}
	p.mu.Lock()
	p.loaded = false
	p.mu.Unlock()
	return nil
}
