package signing

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is a registry on loopback for the image signature tests.
type testRegistry struct {
	name string
	addr string
}

// startRegistries starts Debian's docker-registry (no referrers API: OCI 1.1
// referrers go through the referrers tag there) and go-containerregistry's
// in-memory registry with the referrers API on, so both referrer paths run.
func startRegistries(t *testing.T) []testRegistry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dist, err := fixture.StartRegistry(ctx, fixture.WithLogFile(filepath.Join(t.TempDir(), "registry.log")))
	if err != nil {
		t.Fatalf("start docker-registry (Debian package docker-registry): %v", err)
	}
	t.Cleanup(func() { dist.Close() })
	mem := httptest.NewServer(registry.New(
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(io.Discard, "", 0)),
	))
	t.Cleanup(mem.Close)
	return []testRegistry{
		{name: "docker-registry", addr: dist.Addr()},
		{name: "ggcr-referrers-api", addr: strings.TrimPrefix(mem.URL, "http://")},
	}
}

// pushRandomImage pushes a small random image as repo:tag and returns it
// pinned by digest.
func pushRandomImage(t *testing.T, repo name.Repository, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag(tag), img); err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return repo.Digest(d.String())
}

// cosignSign signs ref with the real cosign CLI, without a transparency
// log; referrers selects OCI 1.1 referrers instead of the ".sig" tag.
func cosignSign(t *testing.T, c *cosignCLI, keyPath, password string, ref name.Digest, referrers bool) {
	t.Helper()
	args := []string{"sign", "--key", keyPath, "--tlog-upload=false", "-y", "--allow-insecure-registry"}
	var env []string
	if referrers {
		args = append(args, "--registry-referrers-mode=oci-1-1")
		env = append(env, "COSIGN_EXPERIMENTAL=1")
	}
	out := c.mustRun(t.TempDir(), password, env, append(args, ref.String())...)
	if strings.Contains(out, "TUF") || strings.Contains(out, "sigstore.dev") {
		t.Errorf("cosign sign tried to reach Sigstore's services:\n%s", out)
	}
}

// copySignatureTag re-tags from's ".sig" manifest as to's: a signature
// lifted from one image and attached to another.
func copySignatureTag(t *testing.T, from, to name.Digest) {
	t.Helper()
	desc, err := remote.Get(signatureTag(from.Context(), mustHash(t, from)))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(signatureTag(to.Context(), mustHash(t, to)), desc); err != nil {
		t.Fatal(err)
	}
}

func mustHash(t *testing.T, d name.Digest) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestVerifyImage(t *testing.T) {
	cosign := newCosignCLI(t)
	keyDir := t.TempDir()
	vendorKey, vendorPub := cosign.generateKeyPair(keyDir, "vendor")
	otherKey, _, _, err := GenerateKeyPairFiles(filepath.Join(keyDir, "other"), staticPassword("other"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := LoadVerifier(vendorPub)
	if err != nil {
		t.Fatal(err)
	}

	for _, reg := range startRegistries(t) {
		t.Run(reg.name, func(t *testing.T) {
			repo, err := name.NewRepository(reg.addr + "/vendor/app")
			if err != nil {
				t.Fatal(err)
			}
			img := map[string]name.Digest{}
			for _, tag := range []string{"tag-signed", "referrer-signed", "both", "unsigned", "other-key", "copied"} {
				img[tag] = pushRandomImage(t, repo, tag)
			}
			cosignSign(t, cosign, vendorKey, "vendor", img["tag-signed"], false)
			cosignSign(t, cosign, vendorKey, "vendor", img["referrer-signed"], true)
			cosignSign(t, cosign, vendorKey, "vendor", img["both"], false)
			cosignSign(t, cosign, vendorKey, "vendor", img["both"], true)
			cosignSign(t, cosign, otherKey, "other", img["other-key"], false)
			copySignatureTag(t, img["tag-signed"], img["copied"])

			tests := []struct {
				image     string
				wantKinds []ArtifactKind
				wantErr   error
				wantMsg   string
			}{
				{image: "tag-signed", wantKinds: []ArtifactKind{TagSignature}},
				{image: "referrer-signed", wantKinds: []ArtifactKind{ReferrerSignature}},
				{image: "both", wantKinds: []ArtifactKind{TagSignature, ReferrerSignature}},
				{image: "unsigned", wantErr: ErrUnsigned, wantMsg: "cosign sign --key"},
				{image: "other-key", wantErr: ErrBadSignature, wantMsg: key.Fingerprint()},
				{image: "copied", wantErr: ErrBadSignature, wantMsg: "copied from another image"},
			}
			for _, tt := range tests {
				t.Run(tt.image, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					arts, err := VerifyImage(ctx, img[tt.image], key)
					if tt.wantErr != nil {
						t.Logf("error: %v", err)
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("VerifyImage error %v, want %v", err, tt.wantErr)
						}
						for _, want := range []string{img[tt.image].String(), tt.wantMsg} {
							if !strings.Contains(err.Error(), want) {
								t.Errorf("error %q does not mention %q", err, want)
							}
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					checkArtifacts(t, img[tt.image], arts, tt.wantKinds)
				})
			}
		})
	}
}

// checkArtifacts checks that arts are of the wanted kinds, each verified,
// and that each names a manifest the registry really holds (under its tag,
// for a tag signature).
func checkArtifacts(t *testing.T, image name.Digest, arts []SignatureArtifact, want []ArtifactKind) {
	t.Helper()
	if len(arts) != len(want) {
		t.Fatalf("%d signature artifacts %+v, want kinds %v", len(arts), arts, want)
	}
	for i, a := range arts {
		if a.Kind != want[i] || a.Verified != 1 {
			t.Errorf("artifact %d: kind %s verified %d, want kind %s verified 1", i, a.Kind, a.Verified, want[i])
		}
		desc, err := remote.Head(a.Digest)
		if err != nil {
			t.Fatalf("artifact %s is not in the registry: %v", a.Digest, err)
		}
		if desc.Size != a.Size || desc.MediaType != a.MediaType {
			t.Errorf("artifact %s: size %d type %s, registry says %d %s", a.Digest, a.Size, a.MediaType, desc.Size, desc.MediaType)
		}
		switch a.Kind {
		case TagSignature:
			if got := signatureTag(image.Context(), mustHash(t, image)); a.Tag != got {
				t.Errorf("tag %s, want %s", a.Tag, got)
			}
			if tagged, err := remote.Head(a.Tag); err != nil || tagged.Digest.String() != a.Digest.DigestStr() {
				t.Errorf("tag %s points at %v (%v), want %s", a.Tag, tagged, err, a.Digest.DigestStr())
			}
		case ReferrerSignature:
			if a.ArtifactType != SignatureArtifactType {
				t.Errorf("artifact type %q, want %q", a.ArtifactType, SignatureArtifactType)
			}
		}
	}
}

func TestVerifyImageNeedsDigest(t *testing.T) {
	_, pubPEM := newTestSigner(t)
	key, err := ParseVerifier(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference("127.0.0.1:1/vendor/app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = VerifyImage(context.Background(), ref, key)
	if err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Fatalf("VerifyImage of a tag: %v, want a 'not pinned by digest' error", err)
	}
}
