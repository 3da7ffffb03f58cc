package inspect

import (
	"bytes"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/bundletest"
)

// FuzzInspect opens arbitrary bytes as a bundle and, when that succeeds,
// inspects it (the image manifests it reads to count dedup included).
// Nothing may panic, hang or allocate without bound.
// Run: go test -run=^$ -fuzz=FuzzInspect -fuzztime=20s ./internal/bundle/inspect
func FuzzInspect(f *testing.F) {
	cfg, layer := []byte(`{"architecture":"amd64","os":"linux"}`), bytes.Repeat([]byte("layer"), 100)
	man := bundletest.Manifest(cfg, layer)
	entries := []bundletest.Entry{
		{Kind: bundle.KindConfig, Name: bundletest.Sha(cfg), Path: bundletest.BlobPath(cfg), Data: cfg},
		{Kind: bundle.KindBlob, Name: bundletest.Sha(layer), Path: bundletest.BlobPath(layer), Data: layer},
		{Kind: bundle.KindManifest, Name: "a:1", Path: bundletest.BlobPath(man), Data: man},
		{Kind: bundle.KindFile, Name: "a", Path: "files/a", Data: []byte("hello")},
	}
	bundletest.SortEntries(entries)
	images := []bundle.Image{{Ref: "registry.local/a:1", Name: "registry.local/a:1", Digest: bundletest.Sha(man), MediaType: "application/vnd.oci.image.manifest.v1+json", Component: "app"}}
	f.Add(bundletest.Write(f, entries, images, []byte("sig")))
	f.Add(bundletest.Write(f, []bundletest.Entry{{Kind: bundle.KindFile, Name: "e", Path: "files/e"}, {Kind: bundle.KindBlob, Name: "b", Path: "blobs/b", Data: bytes.Repeat([]byte("ab"), 3000)}}, nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := bundle.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer r.Close()
		_, _ = Inspect(r)
	})
}
