package push

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/internal/build"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAllPlatformsKeepIndexDigests builds a bundle with spec.allPlatforms
// from multi-platform images (an OCI index and a Docker manifest list) and
// pushes it into Debian's docker-registry, which, like Harbor, refuses an
// index whose manifests it lacks: each tag must then resolve to the
// upstream index digest, with no warning.
func TestAllPlatformsKeepIndexDigests(t *testing.T) {
	ctx := context.Background()
	src, err := fixture.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := fixture.PushDemoSet(ctx, src.Addr()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stack := filepath.Join(dir, "stack.yaml")
	os.WriteFile(stack, []byte(`apiVersion: appliance/v1
kind: Stack
metadata: {name: multi, version: 1.0.0}
spec:
  allPlatforms: true
  components:
    - name: core
      images:
        - registry.factory.example/library/multi:1.0
        - registry.factory.example/library/web:1.0
`), 0o644)
	st, err := manifest.Load(stack)
	if err != nil {
		t.Fatal(err)
	}
	res, err := build.Build(ctx, build.Options{Stack: st, Output: filepath.Join(dir, "multi.bundle"), CacheDir: filepath.Join(dir, "cache"),
		Mirrors: manifest.Mirrors{"registry.factory.example": src.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dst, err := fixture.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	rep, err := Push(ctx, r, dst.Addr(), WithPlainHTTP(), WithHarbor(HarborOff))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) > 0 {
		t.Errorf("push warned: %v", rep.Warnings)
	}
	for _, img := range r.Index().Images {
		ref, err := name.ParseReference(dst.Addr() + "/" + img.Ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if d.Digest.String() != img.Digest || !d.MediaType.IsIndex() {
			t.Errorf("%s is %s (%s) in the registry, want the upstream index %s", ref, d.Digest, d.MediaType, img.Digest)
		}
	}
}
