package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// verifySignatures checks the cosign signature of every image the manifest
// requires one for (per image, or per registry), offline and keyed, and
// keeps the verified signature manifests to carry into the bundle. A missing
// or bad signature fails the build, listing every such image.
func (b *builder) verifySignatures(ctx context.Context) error {
	verifiers := map[string]*signing.Verifier{}
	var errs []error
	for _, p := range b.images {
		keyPath := b.keyFor(p.ref)
		if keyPath == "" {
			continue
		}
		v, ok := verifiers[keyPath]
		if !ok {
			var err error
			if v, err = b.loadVerifier(keyPath); err != nil {
				return err
			}
			verifiers[keyPath] = v
		}
		if err := b.verifyOne(ctx, p, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// keyFor is the public key an image's signature must verify with: its own
// verify key, else its registry's rule, else none.
func (b *builder) keyFor(r manifest.ImageRef) string {
	if r.VerifyKey != "" {
		return r.VerifyKey
	}
	for _, rule := range b.o.Stack.Spec.Verify {
		if rule.Registry == r.Registry {
			return rule.Key
		}
	}
	return ""
}

func (b *builder) loadVerifier(keyPath string) (*signing.Verifier, error) {
	f, err := b.o.Stack.Open(keyPath)
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
// any), then pulls the verified signature manifests into the cache.
func (b *builder) verifyOne(ctx context.Context, p *pulledImage, v *signing.Verifier) error {
	ref, err := b.fetchDigestRef(p)
	if err != nil {
		return err
	}
	arts, err := signing.VerifyImage(ctx, ref, v, remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(b.transport()), remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("image %s (%s): %w; sign it with that key (cosign sign --key) or fix the verify key in the manifest", p.ref.Ref, p.ref.Source, err)
	}
	verified := map[string]bool{}
	for _, a := range arts {
		verified[a.Digest.DigestStr()] = true
	}
	sigs, err := b.puller.Signatures(ctx, p.img)
	if err != nil {
		return fmt.Errorf("image %s: fetch its signatures: %w", p.ref.Ref, err)
	}
	for _, s := range sigs {
		if verified[s.Digest] {
			b.sigs = append(b.sigs, s)
		}
	}
	b.log.Info("image signature verified", "image", p.ref.Ref, "key", v.String(), "signatures", len(arts))
	return nil
}

// fetchDigestRef is the image's digest reference at the registry it is
// fetched from: the mirror when the manifest or command line names one.
func (b *builder) fetchDigestRef(p *pulledImage) (name.Digest, error) {
	mirrors := b.o.Stack.Spec.RegistryMirrors.With(b.o.Mirrors)
	repo := mirrors.Rewrite(p.ref.Registry + "/" + p.ref.Repository)
	var opts []name.Option
	if b.insecure(repo) {
		opts = append(opts, name.Insecure)
	}
	return name.NewDigest(repo+"@"+p.img.Digest, opts...)
}

// insecure reports whether the registry of repo was named insecure: as
// HOST:PORT, or as HOST for every port.
func (b *builder) insecure(repo string) bool {
	host, _, _ := strings.Cut(repo, "/")
	return fetch.NewInsecureHosts(b.insecureHosts()...).Named(host)
}

// insecureHosts are the hosts besides loopback that may be reached over
// plain HTTP: the manifest's insecureRegistries and --insecure-registry.
func (b *builder) insecureHosts() []string {
	return append(append([]string(nil), b.o.Stack.Spec.InsecureRegistries...), b.o.Insecure...)
}

func (b *builder) transport() http.RoundTripper {
	if b.o.Transport != nil {
		return b.o.Transport
	}
	return remote.DefaultTransport
}
