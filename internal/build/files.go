package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/factory-appliance/appliance/internal/build/urlfile"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// entry is one file the bundle will hold: where, what, and how to read it.
type entry struct {
	path        string
	digest      string // the content's digest when known; the writer checks it
	kind        string
	name        string
	component   string
	mediaType   string
	size        int64
	annotations map[string]string
	open        func() (io.ReadCloser, error)
}

// fileEntry is a stack file: local in the manifest's tree, or downloaded
// into the cache.
type fileEntry = entry

// fetchFiles checks every local file and brings every URL file into the
// cache: checked against its sha256 (the lock's for a locked build, else
// the manifest's, else none: then it is named by what was downloaded), and
// against its OpenPGP signature when the manifest requires one. Files go
// to files/<component>/<name>; two files of one component with the same
// name are an error. A locked file whose bytes changed upstream is a drift
// (*lock.DriftError lists every one).
func (b *builder) fetchFiles(ctx context.Context) error {
	seen := map[string]manifest.File{}
	var errs lock.Errors
	for _, f := range b.o.Stack.Files() {
		if f.URL != "" {
			b.prog.AddTotal(1)
		}
		p := path.Join("files", f.Component, f.Name())
		if first, dup := seen[p]; dup {
			errs.Add(fmt.Errorf("%s: file %s has the same name as the file at %s in component %s; rename one of them", f.Pos, f.Name(), first.Pos, f.Component))
			continue
		}
		seen[p] = f
		if e, err := b.fileEntry(ctx, p, f); errs.Add(err) {
			b.files = append(b.files, e)
		}
	}
	return errs.Err()
}

func (b *builder) fileEntry(ctx context.Context, p string, f manifest.File) (entry, error) {
	e := entry{path: p, kind: bundle.KindFile, name: f.Name(), component: f.Component}
	if f.Template {
		e.annotations = map[string]string{bundle.AnnotationTemplate: "true"}
	}
	if f.URL != "" {
		e.annotations = withAnnotation(e.annotations, bundle.AnnotationSource, f.URL)
		return b.urlFile(ctx, e, f)
	}
	return b.localFile(e, f)
}

func withAnnotation(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func (b *builder) localFile(e entry, f manifest.File) (entry, error) {
	fi, err := fs.Stat(b.o.Stack.FS, f.Path)
	if err != nil {
		return e, fmt.Errorf("%s: file %s: %w", f.Pos, f.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return e, fmt.Errorf("%s: file %s is not a regular file", f.Pos, f.Path)
	}
	e.size = fi.Size()
	if f.SHA256 != "" {
		e.digest = "sha256:" + f.SHA256
	}
	e.open = func() (io.ReadCloser, error) { return b.o.Stack.Open(f.Path) }
	return e, nil
}

// urlFile brings a URL file into the cache, pinned by the lock for a
// locked build (Lock.Check made sure it is there), and by the manifest's
// sha256 otherwise. A locked file that upstream changed is a drift.
func (b *builder) urlFile(ctx context.Context, e entry, f manifest.File) (entry, error) {
	pin := lock.File{SHA256: f.SHA256}
	if b.o.Locked {
		pin = b.o.Lock.Files[f.URL]
	}
	got, err := b.fetchURL(ctx, f, pin)
	var de *cas.DigestError
	var big *urlfile.TooLargeError
	switch {
	case b.o.Locked && errors.As(err, &de):
		return e, &lock.DriftError{Drifts: []lock.Drift{{Kind: lock.KindFile, Name: f.URL, Locked: pin.SHA256, Upstream: strings.TrimPrefix(de.Actual, "sha256:")}}}
	case b.o.Locked && errors.As(err, &big):
		return e, &lock.DriftError{Drifts: []lock.Drift{{Kind: lock.KindFile, Name: f.URL, Locked: pin.SHA256, Upstream: fmt.Sprintf("more than the locked %d bytes", pin.Size)}}}
	case err != nil:
		return e, err
	}
	e.digest, e.size = "sha256:"+got.SHA256, got.Size
	e.open = b.cachedOpener(e.digest)
	return e, nil
}

// fetchURL brings f into the cache and returns the sha256 and size of its
// bytes. With pin.SHA256 set, the bytes must hash to it (and be pin.Size
// long when that is set), and a cached copy is used without a download;
// without, the file is downloaded, bounded by urlfile.MaxFileSize, and named by
// what arrived. A file that requires a signature is then verified against
// it, from the cache, on every call: a cached copy is no proof of a
// signature. Errors name the manifest position and the URL.
func (b *builder) fetchURL(ctx context.Context, f manifest.File, pin lock.File) (lock.File, error) {
	id := "file " + f.URL
	b.prog.Start(id, id, 0)
	got, err := b.urls.Fetch(ctx, f.URL, pin)
	var de *cas.DigestError
	switch {
	case errors.As(err, &de) && !b.o.Locked:
		err = fmt.Errorf("%s: file %s: upstream serves other bytes than the manifest's sha256 (%w); check the new file, then update sha256: in the manifest (or remove it and pin the file with `bundle lock`)", f.Pos, f.URL, err)
	case err != nil:
		err = fmt.Errorf("%s: file %s: %w", f.Pos, f.URL, err)
	case f.Verify != nil:
		err = b.urls.Verify(ctx, f, got)
	}
	b.prog.Done(id, err, "")
	return got, err
}

// cachedOpener opens a cached object without hashing it: the bundle writer
// hashes every byte it writes, and add compares that with the entry's digest,
// so hashing here too would only double the cost. Entries that use it must
// set digest.
func (b *builder) cachedOpener(digest string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return b.cache.OpenUnverified(digest) }
}
