package imagesig

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/manifest"
)

func testStack() *manifest.Stack {
	s := &manifest.Stack{FS: fstest.MapFS{"keys/bad.pub": {Data: []byte("not a key")}}}
	s.Spec.Verify = []manifest.VerifyRule{{Registry: "registry.example", Key: "keys/registry.pub"}}
	return s
}

func TestKeyFor(t *testing.T) {
	o := Options{Stack: testStack()}
	for _, c := range []struct {
		ref  manifest.ImageRef
		want string
	}{
		{manifest.ImageRef{Registry: "registry.example", VerifyKey: "keys/own.pub"}, "keys/own.pub"},
		{manifest.ImageRef{Registry: "registry.example"}, "keys/registry.pub"},
		{manifest.ImageRef{Registry: "docker.io"}, ""},
	} {
		if got := o.keyFor(c.ref); got != c.want {
			t.Errorf("keyFor(%+v) = %q, want %q", c.ref, got, c.want)
		}
	}
}

// TestVerifyReadsTheKeysFirst: images no rule names are not verified, and
// a key that is missing or not a key fails naming it, before any registry
// is asked.
func TestVerifyReadsTheKeysFirst(t *testing.T) {
	o := Options{Stack: testStack()}
	img := &images.Image{Digest: "sha256:" + strings.Repeat("0", 64)}
	sigs, err := Verify(context.Background(), o, []Image{{Ref: manifest.ImageRef{Registry: "docker.io"}, Img: img}})
	if err != nil || len(sigs) != 0 {
		t.Fatalf("no key named: %v, %d signatures", err, len(sigs))
	}
	for _, key := range []string{"keys/bad.pub", "keys/missing.pub"} {
		_, err := Verify(context.Background(), o, []Image{{Ref: manifest.ImageRef{Registry: "docker.io", VerifyKey: key}, Img: img}})
		if err == nil || !strings.HasPrefix(err.Error(), "public key "+key+": ") {
			t.Errorf("key %s: %v, want an error naming it", key, err)
		}
	}
}
