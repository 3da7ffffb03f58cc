package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/build/outfile"
	"github.com/factory-appliance/appliance/internal/build/packcache"
	"github.com/factory-appliance/appliance/internal/bundle"
)

// The bundle's entries are written in a fixed order that depends only on the
// stack and its content, never on timing or the number of cores: first the
// blobs of each image in manifest order (each blob once, where it first
// appears), streamed while later images are pulled; then every other entry
// (signatures, charts, files, RPMs, the layout's index) sorted by path; then
// bundle.json and its signature.

// output is the bundle being written: its temporary files (package
// outfile), the bundle writer on them, and what has been written so far.
type output struct {
	f       *outfile.File
	w       *bundle.Writer
	written map[string]bool // paths
	arts    []bundle.Artifact
	index   []byte // bundle.json, once finished
	signed  bool

	hashedOnce int      // entries written with their download-time digests
	streamed   int      // layers streamed from the registry (stream.go)
	committed  []string // the final names, once renamed into place
}

// noPacks makes builds store every download in the cache, as they do when
// the cache and the output are on two filesystems; for tests.
var noPacks bool

// openOutput creates the temporary file and the bundle writer.
func (b *builder) openOutput(context.Context) error {
	f, err := outfile.Create(b.o.Output, b.o.Split)
	if err != nil {
		return err
	}
	b.out = &output{f: f, written: map[string]bool{}}
	b.stream = !noPacks && b.packs.Linkable(f.Parts()[0])
	var opts []bundle.Option
	if b.o.Workers > 0 {
		opts = append(opts, bundle.WithWorkers(b.o.Workers))
	}
	b.out.w = bundle.NewWriter(f, opts...)
	b.prog.AddTotal(1)
	b.prog.Start("write", "write bundle "+filepath.Base(b.o.Output), 0)
	return nil
}

// abortOutput removes the temporary files after a failure, unless they
// hold layers streamed from a registry: those the cache keeps (salvage).
func (b *builder) abortOutput() {
	if b.out == nil || b.out.f.Parts() == nil {
		return
	}
	if b.out.streamed > 0 {
		err := b.salvage()
		if err == nil {
			return
		}
		b.log.Warn("the layers this failed build downloaded could not be kept in the cache", "error", err)
	}
	b.out.w.Abort()
	b.out.f.Remove()
}

// streamImage writes the blobs of one pulled image that are not in the
// bundle yet, in the image's order: manifests, config, layers.
func (b *builder) streamImage(img *images.Image) error {
	manifests := map[string]bool{}
	for _, m := range img.Manifests {
		manifests[m.Digest] = true
	}
	for _, bl := range img.Blobs() {
		e := b.blobEntry(bl, img.Ref, manifests[bl.Digest])
		if b.out.written[e.path] {
			continue
		}
		if err := b.add(e); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) blobEntry(bl images.Blob, user string, manifest bool) entry {
	kind := bundle.KindBlob
	if manifest {
		kind = bundle.KindManifest
	}
	return entry{
		path: "blobs/sha256/" + strings.TrimPrefix(bl.Digest, "sha256:"), kind: kind, name: user,
		mediaType: bl.MediaType, size: bl.Size, digest: bl.Digest, open: b.cachedOpener(bl.Digest),
	}
}

// writeRest writes every entry not streamed yet, sorted by path.
func (b *builder) writeRest(ctx context.Context) error {
	es, err := b.entries()
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.out.written[e.path] {
			continue
		}
		if err := b.add(e); err != nil {
			return err
		}
	}
	b.prog.Done("write", nil, fmt.Sprintf("%d entries", len(b.out.arts)))
	return nil
}

// entries is everything the bundle holds but bundle.json, sorted by path.
func (b *builder) entries() ([]entry, error) {
	imgs := make([]*images.Image, 0, len(b.images)+len(b.sigs))
	for _, p := range b.images {
		imgs = append(imgs, p.img)
	}
	imgs = append(imgs, b.sigs...)
	imgs = append(imgs, b.charts.Artifacts...)
	manifests := map[string]bool{}
	for _, img := range imgs {
		for _, m := range img.Manifests {
			manifests[m.Digest] = true
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
		es = append(es, b.blobEntry(bl, users[bl.Digest], manifests[bl.Digest]))
	}
	es = append(es, b.files...)
	es = append(es, b.chartEntries()...)
	es = append(es, b.configEntries()...)
	es = append(es, b.rpmEntries()...)
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

// add streams one entry into the bundle. Content this build downloaded is
// written with the digests computed while it streamed into the cache (its
// sha256 checked against upstream's digest there, its chunk digests beside
// it), so those bytes are hashed once in all. Everything else (cached by an
// earlier build, or made here) is hashed by the writer; for content whose
// digest is known that hash must match, or the build fails, and a damaged
// cache object is removed so the next build fetches it anew.
func (b *builder) add(e entry) error {
	if b.inBase(e) {
		b.out.written[e.path] = true
		b.base.count++
		b.base.bytes += e.size
		b.prog.Add("write", e.size)
		return nil
	}
	rc, err := e.open()
	if err != nil {
		if d := b.damaged(e, err); d != nil {
			return d
		}
		return fmt.Errorf("%s %s: %w", e.kind, e.name, err)
	}
	defer rc.Close()
	var got bundle.Entry
	if k, ok := b.fresh(e); ok {
		got, err = b.out.w.AddKnown(e.path, e.size, rc, k)
		b.out.hashedOnce++
	} else {
		got, err = b.out.w.Add(e.path, e.size, rc)
	}
	if err != nil {
		if d := b.damaged(e, err); d != nil {
			return d
		}
		return fmt.Errorf("%s %s (%s): %w", e.kind, e.name, e.path, err)
	}
	if e.digest != "" && got.Digest != e.digest {
		b.cache.Remove(e.digest)
		return fmt.Errorf("%s %s (%s): the cached copy is damaged (content %s, want %s); it was removed from the cache %s: run the build again",
			e.kind, e.name, e.path, got.Digest, e.digest, b.cache.Dir())
	}
	b.note(e, got)
	return nil
}

// damaged is the error for an entry whose cached copy, in a bundle the
// cache keeps, could not be read back (nil for other errors): the copy is
// taken off the cache, so that the next build downloads it again.
func (b *builder) damaged(e entry, err error) error {
	var pe *packcache.ReadError
	if e.digest == "" || !errors.As(err, &pe) {
		return nil
	}
	b.cache.Remove(e.digest)
	return fmt.Errorf("%s %s: the cached copy of %s is damaged (%w); it was removed from the cache %s: run the build again",
		e.kind, e.name, e.digest, err, b.cache.Dir())
}

// note records an entry written.
func (b *builder) note(e entry, got bundle.Entry) {
	a := got.Artifact(e.kind, e.name)
	a.MediaType, a.Component, a.Annotations = e.mediaType, e.component, e.annotations
	b.out.arts = append(b.out.arts, a)
	b.out.written[e.path] = true
	b.prog.Add("write", e.size)
}

// fresh returns the digests of an entry this build downloaded into the
// cache, when the cache has them.
func (b *builder) fresh(e entry) (bundle.Known, bool) {
	if e.digest == "" {
		return bundle.Known{}, false
	}
	chunks, ok := b.cache.Fresh(e.digest)
	if !ok {
		return bundle.Known{}, false
	}
	if bundle.NumChunks(e.size) == 0 {
		chunks = nil
	}
	if len(chunks) != bundle.NumChunks(e.size) {
		return bundle.Known{}, false
	}
	return bundle.Known{Digest: e.digest, Chunks: chunks}, true
}

// index is bundle.json.
func (b *builder) index() *bundle.Index {
	s := b.o.Stack
	idx := &bundle.Index{
		SchemaVersion: bundle.SchemaVersion,
		Name:          s.Metadata.Name,
		Version:       s.Metadata.Version,
		Platform:      s.Spec.Platform.String(),
		Artifacts:     b.out.arts,
	}
	comps := map[string]*bundle.Component{}
	for _, c := range s.Spec.Components {
		idx.Components = append(idx.Components, bundle.Component{Name: c.Name, PodNetwork: c.PodNetwork})
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
	b.charts.Record(idx)
	b.recordAllowMissing(idx)
	b.install.Record(idx)
	b.rpms.RecordRolePackages(b.o.Stack, idx)
	b.recordOverrides(idx)
	if b.base != nil {
		idx.Base = b.base.ref
	}
	return idx
}

// finish writes bundle.json, signed when there is a signer, closes the
// file durably and renames it into place.
func (b *builder) finish(context.Context) error {
	data, err := b.index().Marshal()
	if err != nil {
		return err
	}
	var sig []byte
	if b.o.Signer != nil {
		if sig, err = b.o.Signer.SignBlob(data); err != nil {
			return fmt.Errorf("sign bundle.json: %w", err)
		}
	}
	if err := b.out.w.Finish(data, sig); err != nil {
		return err
	}
	b.out.index, b.out.signed = data, sig != nil
	if err := b.commitOutput(); err != nil {
		return err
	}
	if b.out.streamed > 0 {
		b.keepPack()
	}
	return nil
}

// commitOutput renames the files into place, durably (outfile.Commit).
func (b *builder) commitOutput() error {
	names, err := b.out.f.Commit()
	b.out.committed = names
	return err
}

func (b *builder) result() *Result {
	sum := sha256.Sum256(b.out.index)
	r := &Result{Path: b.o.Output, Parts: b.out.committed, IndexDigest: "sha256:" + hex.EncodeToString(sum[:]), Size: b.out.f.Size(),
		Images: len(b.images), Files: len(b.files), Signed: b.out.signed,
		Fetched: b.pulls.fetched, Cached: b.pulls.cached, Signatures: len(b.sigs), HashedOnce: b.out.hashedOnce}
	if b.base != nil {
		r.Base, r.BaseBlobs, r.BaseBytes = b.base.ref, b.base.count, b.base.bytes
	}
	for _, a := range b.out.arts {
		r.Content += a.Size
		if a.Kind == bundle.KindBlob || a.Kind == bundle.KindManifest {
			r.Blobs++
		}
	}
	return r
}
