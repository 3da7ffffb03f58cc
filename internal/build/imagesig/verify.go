// Package imagesig checks the cosign signatures a stack's manifest
// requires of its images (an image's verify key, else its registry's rule
// in spec.verify), offline and keyed, at the registry each image is
// fetched from (its mirror, if any), and fetches the verified signature
// manifests into the content cache for the bundle to carry. Which images
// were pulled, and where their signatures go in the bundle, is package
// build's.
package imagesig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Options are where the images and keys are and how to reach them. Every
// field is required.
type Options struct {
	// Stack names the keys, and is where they are read.
	Stack *manifest.Stack
	// Mirrors are the registry mirrors images are fetched from: the
	// manifest's with the command line's.
	Mirrors manifest.Mirrors
	// Insecure are the hosts besides loopback that may be reached over
	// plain HTTP.
	Insecure  []string
	Transport http.RoundTripper
	// Puller fetches the signature manifests into the cache.
	Puller *images.Puller
	Log    *slog.Logger
}

// Image is one pulled image of the stack.
type Image struct {
	Ref manifest.ImageRef
	Img *images.Image
}

// Verify checks the cosign signature of every image the manifest
// requires one for (per image, or per registry), offline and keyed, and
// returns the verified signature manifests, to carry into the bundle. A
// missing or bad signature fails, listing every such image.
func Verify(ctx context.Context, o Options, imgs []Image) ([]*images.Image, error) {
	verifiers := map[string]*signing.Verifier{}
	var sigs []*images.Image
	var errs []error
	for _, p := range imgs {
		keyPath := o.keyFor(p.Ref)
		if keyPath == "" {
			continue
		}
		v, ok := verifiers[keyPath]
		if !ok {
			var err error
			if v, err = o.loadVerifier(keyPath); err != nil {
				return sigs, err
			}
			verifiers[keyPath] = v
		}
		got, err := o.verifyOne(ctx, p, v)
		if err != nil {
			errs = append(errs, err)
		}
		sigs = append(sigs, got...)
	}
	return sigs, errors.Join(errs...)
}

// keyFor is the public key an image's signature must verify with: its own
// verify key, else its registry's rule, else none.
func (o *Options) keyFor(r manifest.ImageRef) string {
	if r.VerifyKey != "" {
		return r.VerifyKey
	}
	for _, rule := range o.Stack.Spec.Verify {
		if rule.Registry == r.Registry {
			return rule.Key
		}
	}
	return ""
}

func (o *Options) loadVerifier(keyPath string) (*signing.Verifier, error) {
	f, err := o.Stack.Open(keyPath)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", keyPath, err)
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", keyPath, err)
	}
	v, err := signing.ParseVerifier(pem)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", keyPath, err)
	}
	return v, nil
}

// verifyOne verifies one image where it was pulled from (its mirror, if
// any), then pulls the verified signature manifests into the cache and
// returns them.
func (o *Options) verifyOne(ctx context.Context, p Image, v *signing.Verifier) ([]*images.Image, error) {
	ref, err := o.fetchDigestRef(p)
	if err != nil {
		return nil, err
	}
	arts, err := signing.VerifyImage(ctx, ref, v, remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(o.Transport), remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("image %s (%s): %w; sign it with that key (cosign sign --key) or fix the verify key in the manifest", p.Ref.Ref, p.Ref.Source, err)
	}
	verified := map[string]bool{}
	for _, a := range arts {
		verified[a.Digest.DigestStr()] = true
	}
	sigs, err := o.Puller.Signatures(ctx, p.Img)
	if err != nil {
		return nil, fmt.Errorf("image %s: fetch its signatures: %w", p.Ref.Ref, err)
	}
	var out []*images.Image
	for _, s := range sigs {
		if verified[s.Digest] {
			out = append(out, s)
		}
	}
	o.Log.Info("image signature verified", "image", p.Ref.Ref, "key", v.String(), "signatures", len(arts))
	return out, nil
}

// fetchDigestRef is the image's digest reference at the registry it is
// fetched from: the mirror when the manifest or command line names one.
func (o *Options) fetchDigestRef(p Image) (name.Digest, error) {
	repo := o.Mirrors.Rewrite(p.Ref.Registry + "/" + p.Ref.Repository)
	var opts []name.Option
	if o.insecure(repo) {
		opts = append(opts, name.Insecure)
	}
	return name.NewDigest(repo+"@"+p.Img.Digest, opts...)
}

// insecure reports whether the registry of repo was named insecure: as
// HOST:PORT, or as HOST for every port.
func (o *Options) insecure(repo string) bool {
	host, _, _ := strings.Cut(repo, "/")
	return fetch.NewInsecureHosts(o.Insecure...).Named(host)
}
