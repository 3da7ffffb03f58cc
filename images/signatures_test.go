package images

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushRandom writes a random image to ref and returns its digest.
func pushRandom(t *testing.T, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestSignaturesAndReferrers(t *testing.T) {
	reg, _ := demoRegistry(t)
	repo := reg.Addr() + "/sigtest/app"
	subject := pushRandom(t, repo+":1.0")
	subjectDigest, _ := subject.Digest()
	tagBase := strings.Replace(subjectDigest.String(), ":", "-", 1)
	sig := pushRandom(t, repo+":"+tagBase+".sig")
	sigDigest, _ := sig.Digest()

	// An OCI 1.1 referrer, listed by the tag schema fallback (Debian's
	// registry has no referrers API).
	art, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	artDigest, _ := art.Digest()
	if err := remote.Write(mustRef(t, repo+"@"+artDigest.String()), art); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: art})
	if err := remote.WriteIndex(mustRef(t, repo+":"+tagBase), idx); err != nil {
		t.Fatal(err)
	}

	p := newTestPuller(t, newCache(t), WithSignatures(true))
	imgs, err := p.PullAll(context.Background(), []Request{{Ref: repo + ":1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 3 {
		t.Fatalf("got %d images, want the image, its .sig tag and one referrer", len(imgs))
	}
	if imgs[0].Digest != subjectDigest.String() || imgs[0].Subject != "" {
		t.Errorf("first image %+v is not the subject", imgs[0])
	}
	got := map[string]string{}
	for _, img := range imgs[1:] {
		got[img.Digest] = img.Subject
	}
	for _, d := range []string{sigDigest.String(), artDigest.String()} {
		if got[d] != subjectDigest.String() {
			t.Errorf("%s: subject %q, want %s (got %v)", d, got[d], subjectDigest, got)
		}
	}
}

func TestSignaturesMissingIsNotAnError(t *testing.T) {
	reg, _ := demoRegistry(t)
	p := newTestPuller(t, newCache(t), WithSignatures(true))
	imgs, err := p.PullAll(context.Background(), []Request{{Ref: ref(reg.Addr(), "library/db:1.0")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Errorf("got %d images for an unsigned image, want 1", len(imgs))
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
