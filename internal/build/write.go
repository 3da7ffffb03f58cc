package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/bundle"
)

// write lays out every entry in path order, streams them into a temporary
// bundle file, signs bundle.json, and renames the file into place.
func (b *builder) write(ctx context.Context) (res *Result, err error) {
	entries, err := b.entries()
	if err != nil {
		return nil, err
	}
	out, err := newAtomicFile(b.o.Output)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			out.abort()
		}
	}()
	var opts []bundle.Option
	if b.o.Workers > 0 {
		opts = append(opts, bundle.WithWorkers(b.o.Workers))
	}
	w := bundle.NewWriter(out, opts...)
	idx, err := b.addEntries(ctx, w, entries)
	if err != nil {
		w.Abort()
		return nil, err
	}
	signed, err := b.finish(w, idx)
	if err != nil {
		return nil, err
	}
	if err := out.commit(); err != nil {
		return nil, err
	}
	return b.result(out, idx, signed), nil
}

// entries is everything the bundle holds but bundle.json, sorted by path so
// the bytes do not depend on the order things were fetched in.
func (b *builder) entries() ([]entry, error) {
	imgs := make([]*images.Image, 0, len(b.images)+len(b.sigs))
	manifests := map[string]string{} // digest → first image naming it
	for _, p := range b.images {
		imgs = append(imgs, p.img)
	}
	imgs = append(imgs, b.sigs...)
	imgs = append(imgs, b.chartImages()...)
	for _, img := range imgs {
		for _, m := range img.Manifests {
			if _, ok := manifests[m.Digest]; !ok {
				manifests[m.Digest] = img.Ref
			}
		}
	}
	layout, index, blobs, err := images.Layout(imgs)
	if err != nil {
		return nil, err
	}
	users := blobUsers(imgs)
	es := []entry{
		memEntry(bundle.OCILayoutName, bundle.KindLayout, "OCI image layout", layout),
		memEntry(bundle.OCIIndexName, bundle.KindLayout, "OCI image index", index),
	}
	for _, bl := range blobs {
		kind := bundle.KindBlob
		if _, ok := manifests[bl.Digest]; ok {
			kind = bundle.KindManifest
		}
		es = append(es, entry{
			path:      "blobs/sha256/" + strings.TrimPrefix(bl.Digest, "sha256:"),
			kind:      kind,
			name:      users[bl.Digest],
			mediaType: bl.MediaType,
			size:      bl.Size,
			open:      b.cachedOpener(bl.Digest),
		})
	}
	es = append(es, b.files...)
	es = append(es, b.chartEntries()...)
	if b.rpms != nil {
		es = append(es, b.rpms.entries...)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].path < es[j].path })
	return es, nil
}

// blobUsers names each blob by the first image (in manifest order) that
// needs it, for messages and inspect.
func blobUsers(imgs []*images.Image) map[string]string {
	users := map[string]string{}
	for _, img := range imgs {
		for _, bl := range img.Blobs() {
			if _, ok := users[bl.Digest]; !ok {
				users[bl.Digest] = img.Ref
			}
		}
	}
	return users
}

func memEntry(path, kind, name string, data []byte) entry {
	return entry{path: path, kind: kind, name: name, size: int64(len(data)),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// addEntries streams every entry into the writer and returns the index
// that describes them.
func (b *builder) addEntries(ctx context.Context, w *bundle.Writer, es []entry) (*bundle.Index, error) {
	idx := b.index()
	b.prog.AddTotal(1)
	b.prog.Start("write", "write bundle "+filepath.Base(b.o.Output), totalSize(es))
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a, err := addEntry(w, e)
		if err != nil {
			b.prog.Done("write", err, "")
			return nil, err
		}
		b.prog.Add("write", e.size)
		idx.Artifacts = append(idx.Artifacts, a)
	}
	b.prog.Done("write", nil, fmt.Sprintf("%d entries", len(es)))
	return idx, nil
}

func addEntry(w *bundle.Writer, e entry) (bundle.Artifact, error) {
	rc, err := e.open()
	if err != nil {
		return bundle.Artifact{}, fmt.Errorf("%s %s: %w", e.kind, e.name, err)
	}
	defer rc.Close()
	got, err := w.Add(e.path, e.size, rc)
	if err != nil {
		return bundle.Artifact{}, fmt.Errorf("%s %s (%s): %w", e.kind, e.name, e.path, err)
	}
	a := got.Artifact(e.kind, e.name)
	a.MediaType, a.Component, a.Annotations = e.mediaType, e.component, e.annotations
	return a, nil
}

func totalSize(es []entry) int64 {
	var n int64
	for _, e := range es {
		n += e.size
	}
	return n
}

// index is bundle.json without its artifacts.
func (b *builder) index() *bundle.Index {
	s := b.o.Stack
	idx := &bundle.Index{
		SchemaVersion: bundle.SchemaVersion,
		Name:          s.Metadata.Name,
		Version:       s.Metadata.Version,
		Platform:      s.Spec.Platform.String(),
	}
	comps := map[string]*bundle.Component{}
	for _, c := range s.Spec.Components {
		idx.Components = append(idx.Components, bundle.Component{Name: c.Name})
	}
	for i := range idx.Components {
		comps[idx.Components[i].Name] = &idx.Components[i]
	}
	for _, p := range b.images {
		img := p.img
		idx.Images = append(idx.Images, bundle.Image{Ref: p.ref.Ref, Name: img.Name, Digest: img.Digest, MediaType: img.MediaType, Component: p.ref.Component, Platform: img.Platform})
		comps[p.ref.Component].Images = append(comps[p.ref.Component].Images, p.ref.Ref)
	}
	for _, f := range b.files {
		comps[f.component].Files = append(comps[f.component].Files, f.path)
	}
	for _, r := range s.RPMs() {
		comps[r.Component].RPMs = append(comps[r.Component].RPMs, r.Spec)
	}
	for _, a := range s.AllowedMissingImages() {
		idx.AllowedMissing = append(idx.AllowedMissing, a.Ref)
	}
	b.recordCharts(idx)
	return idx
}

// finish writes bundle.json and, with a signer, its signature.
func (b *builder) finish(w *bundle.Writer, idx *bundle.Index) (bool, error) {
	data, err := idx.Marshal()
	if err != nil {
		w.Abort()
		return false, err
	}
	var sig []byte
	if b.o.Signer != nil {
		if sig, err = b.o.Signer.SignBlob(data); err != nil {
			w.Abort()
			return false, fmt.Errorf("sign bundle.json: %w", err)
		}
	}
	return sig != nil, w.Finish(data, sig)
}

func (b *builder) result(out *atomicFile, idx *bundle.Index, signed bool) *Result {
	r := &Result{Path: b.o.Output, Digest: out.digest(), Size: out.n, Images: len(b.images), Files: len(b.files),
		Signed: signed, Fetched: b.pulls.fetched, Cached: b.pulls.cached, Signatures: len(b.sigs)}
	for _, a := range idx.Artifacts {
		r.Content += a.Size
		if a.Kind == bundle.KindBlob || a.Kind == bundle.KindManifest {
			r.Blobs++
		}
	}
	return r
}

// atomicFile is the bundle being written: a temporary file next to the
// output, hashed as it is written, renamed into place by commit.
type atomicFile struct {
	f     *os.File
	final string
	h     hashWriter
	n     int64
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newAtomicFile(final string) (*atomicFile, error) {
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{f: f, final: final, h: sha256.New()}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	a.h.Write(p[:n])
	a.n += int64(n)
	return n, err
}

func (a *atomicFile) digest() string { return "sha256:" + hex.EncodeToString(a.h.Sum(nil)) }

func (a *atomicFile) abort() {
	a.f.Close()
	os.Remove(a.f.Name())
}

func (a *atomicFile) commit() error {
	if err := a.f.Sync(); err != nil {
		a.abort()
		return err
	}
	if err := a.f.Chmod(0o644); err != nil {
		a.abort()
		return err
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.f.Name())
		return err
	}
	return os.Rename(a.f.Name(), a.final)
}
