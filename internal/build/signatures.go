package build

import (
	"context"
	"net/http"

	"github.com/factory-appliance/appliance/internal/build/imagesig"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// verifySignatures checks the cosign signature of every image the manifest
// requires one for (per image, or per registry), offline and keyed, and
// keeps the verified signature manifests to carry into the bundle
// (imagesig.Verify). A missing or bad signature fails the build, listing
// every such image.
func (b *builder) verifySignatures(ctx context.Context) error {
	imgs := make([]imagesig.Image, 0, len(b.images))
	for _, p := range b.images {
		imgs = append(imgs, imagesig.Image{Ref: p.ref, Img: p.img})
	}
	sigs, err := imagesig.Verify(ctx, imagesig.Options{
		Stack: b.o.Stack, Mirrors: b.o.Stack.Spec.RegistryMirrors.With(b.o.Mirrors), Insecure: b.insecureHosts(),
		Transport: b.transport(), Puller: b.puller, Log: b.log,
	}, imgs)
	b.sigs = append(b.sigs, sigs...)
	return err
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
