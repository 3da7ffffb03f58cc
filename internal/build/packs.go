package build

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// The build's side of the packs (package packcache): when the cache and
// the output are on one filesystem, the layers a build downloads stream
// into the bundle (stream.go) and the cache keeps the bundle afterwards
// instead of copies of its own.

// keepPack makes the cache keep the bundle just written, which holds the
// layers this build streamed and did not store in the cache (packcache). A
// failure costs the next build downloads, not this one its bundle: it is
// a warning.
func (b *builder) keepPack() {
	blobs := map[string]int64{}
	for _, a := range b.out.arts {
		if (a.Kind == bundle.KindBlob || a.Kind == bundle.KindManifest) && a.Path == "blobs/sha256/"+strings.TrimPrefix(a.Digest, "sha256:") {
			blobs[a.Digest] = a.Size
		}
	}
	if err := b.packs.Keep(b.out.index, b.out.committed, blobs, b.cache); err != nil {
		fmt.Fprintf(b.warn(), "warning: the content cache could not keep the bundle %s, so the next build downloads its layers again: %v\n", b.o.Output, err)
		b.log.Warn("the content cache could not keep the bundle", "bundle", b.o.Output, "error", err)
	}
}

// salvage keeps the layers a failed build streamed, which only its
// temporary bundle holds: the bundle so far is finished with an unsigned
// index of what it holds, and the cache keeps it as a pack (moved into
// its directory, never to the output's name), so a rerun downloads only
// what is missing. It fails, and the caller removes the files, when the
// writer cannot finish (it failed itself: a download that did not match
// its digest, a cancelled build); everything in it was checked, since an
// entry is listed only once its reader reached a checked io.EOF.
func (b *builder) salvage() error {
	idx := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: b.o.Stack.Metadata.Name, Version: b.o.Stack.Metadata.Version,
		Platform: b.o.Stack.Spec.Platform.String(), Artifacts: b.out.arts}
	data, err := idx.Marshal()
	if err != nil {
		return err
	}
	if err := b.out.w.Finish(data, nil); err != nil {
		return err
	}
	blobs := map[string]int64{}
	for _, a := range b.out.arts {
		if a.Path == "blobs/sha256/"+strings.TrimPrefix(a.Digest, "sha256:") {
			blobs[a.Digest] = a.Size
		}
	}
	if err := b.packs.Adopt(data, b.out.f.Parts(), b.out.f.Split(), blobs); err != nil {
		return err
	}
	b.out.f.Release()
	return nil
}
