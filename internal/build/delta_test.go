package build

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteserver"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
	"github.com/factory-appliance/appliance/internal/trust"
)

// TestDeltaBundle builds the demo without its "tools" images (1.0), then
// the whole demo (1.1) as a delta against it: the delta leaves out every
// blob 1.0 holds, names 1.0 as its base, and, opened with its base, reads
// as the whole 1.1 — every artifact of a full 1.1 build, same digests,
// Verify clean, and every image pulled digest-identical by
// go-containerregistry from deploy serve's server. Without its base, or
// with the wrong one, it is refused with the fix.
func TestDeltaBundle(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	v10 := demoOptions(t, cache, filepath.Join(dir, "demo-1.0.bundle"))
	v10.Stack.Metadata.Version = "1.0"
	for i := range v10.Stack.Spec.Components {
		if v10.Stack.Spec.Components[i].Name == "tools" {
			v10.Stack.Spec.Components[i].Images = nil
		}
	}
	base, err := Build(context.Background(), v10)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "demo-full.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	do := demoOptions(t, cache, filepath.Join(dir, "demo-1.1.bundle"))
	do.Base = base.Path
	delta, err := Build(context.Background(), do)
	if err != nil {
		t.Fatal(err)
	}
	if delta.Base == nil || delta.Base.Version != "1.0" || delta.BaseBlobs == 0 {
		t.Fatalf("delta result: base %+v, %d blobs left to it", delta.Base, delta.BaseBlobs)
	}
	if delta.Size >= full.Size {
		t.Errorf("delta of %d bytes, the full bundle %d", delta.Size, full.Size)
	}

	// With an empty cache the delta downloads none of the layers its base
	// holds, and is the same file.
	cold := filepath.Join(dir, "cold-cache")
	dc := demoOptions(t, cold, filepath.Join(dir, "demo-1.1-cold.bundle"))
	dc.Base = base.Path
	deltaCold, err := Build(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	if fileSHA(t, deltaCold.Path) != fileSHA(t, delta.Path) {
		t.Error("the delta built with an empty cache differs")
	}
	bidx, err := bundle.Open(base.Path)
	if err != nil {
		t.Fatal(err)
	}
	layers := 0
	for _, a := range bidx.Index().Artifacts {
		if !strings.Contains(a.MediaType, ".layer.") && !strings.Contains(a.MediaType, "rootfs") {
			continue
		}
		layers++
		if _, err := os.Stat(filepath.Join(cold, "sha256", strings.TrimPrefix(a.Digest, "sha256:"))); err == nil {
			t.Errorf("layer %s, which the base holds, was downloaded for the delta", a.Digest)
		}
	}
	bidx.Close()
	if layers == 0 {
		t.Fatal("the base bundle lists no layer")
	}

	fr, err := bundle.Open(full.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	br, err := bundle.Open(base.Path)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := bundle.Open(delta.Path, bundle.WithBase(br))
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	for _, a := range fr.Index().Artifacts {
		if a.Path == bundle.OCIIndexName || strings.HasPrefix(a.Path, "files/") {
			continue // the same in both; compared through the images below
		}
		got, ok := dr.Lookup(a.Path)
		if !ok || got.Digest != a.Digest {
			t.Errorf("%s: in the delta with its base: %v %s, want %s", a.Path, ok, got.Digest, a.Digest)
			continue
		}
		rc, err := dr.Open(got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("reading %s through the delta: %v", a.Path, err)
		}
		rc.Close()
	}
	if err := dr.Verify(context.Background(), nil); err != nil {
		t.Errorf("Verify of the delta with its base: %v", err)
	}
	if n := len(dr.Artifacts()); n < len(fr.Index().Artifacts) {
		t.Errorf("the delta with its base lists %d artifacts, the full bundle %d", n, len(fr.Index().Artifacts))
	}

	// deploy serve's server on the layered bundle: every image pulls whole.
	url := serveForTest(t, content.NewBundle(dr))
	for _, im := range fr.Index().Images {
		ref, err := name.ParseReference(url + "/" + im.Name)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", im.Name, err)
		}
		if desc.Digest.String() != im.Digest {
			t.Errorf("%s: served as %s, want %s", im.Name, desc.Digest, im.Digest)
		}
		if img, err := desc.Image(); err == nil {
			layers, _ := img.Layers()
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					t.Errorf("%s: layer: %v", im.Name, err)
				}
				rc.Close()
			}
		}
	}

	// Refusals.
	if _, err := trust.OpenWithBase(delta.Path, "", "", true, io.Discard); err == nil || !strings.Contains(err.Error(), "--base") || !strings.Contains(err.Error(), "1.0") {
		t.Errorf("the delta without its base: err = %v", err)
	}
	if _, err := trust.OpenWithBase(delta.Path, full.Path, "", true, io.Discard); err == nil || !strings.Contains(err.Error(), "was built against") {
		t.Errorf("the delta with the wrong base: err = %v", err)
	}
	if _, err := trust.OpenWithBase(full.Path, base.Path, "", true, io.Discard); err == nil || !strings.Contains(err.Error(), "not a delta") {
		t.Errorf("a full bundle with a base: err = %v", err)
	}
	r, err := trust.OpenWithBase(delta.Path, base.Path, "", true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	do.Base = delta.Path
	do.Output = filepath.Join(dir, "demo-1.2.bundle")
	if _, err := Build(context.Background(), do); err == nil || !strings.Contains(err.Error(), "itself a delta") {
		t.Errorf("a delta against a delta: err = %v", err)
	}
	if _, err := os.Stat(do.Output); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed build left %s", do.Output)
	}
}

// serveForTest serves content with deploy serve's handler over plain HTTP
// on loopback and returns its host:port.
func serveForTest(t *testing.T, content content.Content) string {
	t.Helper()
	srv, err := siteserver.New(context.Background(), content)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}
