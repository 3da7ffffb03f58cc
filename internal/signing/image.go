package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxPayloadSize bounds a simple-signing payload. Cosign's are a few hundred
// bytes; annotations may make them grow, not to megabytes.
const maxPayloadSize = 1 << 20

// maxSignatureManifests and maxSignatureLayers bound the work a registry
// can make VerifyImage do. Real images carry a handful of signatures.
const (
	maxSignatureManifests = 64
	maxSignatureLayers    = 64
)

// ArtifactKind says how a signature manifest is attached to its image.
type ArtifactKind string

const (
	// TagSignature is cosign's classic attachment: a manifest under the tag
	// "sha256-<hex>.sig" in the image's repository.
	TagSignature ArtifactKind = "tag"
	// ReferrerSignature is an OCI 1.1 referrer whose subject is the image.
	ReferrerSignature ArtifactKind = "referrer"
)

// SignatureArtifact is one signature manifest that holds at least one
// signature of the image that verified with the key. To carry it into a
// bundle, copy Digest (not Tag: a tag may move after verification) and, for
// a TagSignature, re-create Tag pointing at it.
type SignatureArtifact struct {
	Kind ArtifactKind
	// Digest is the signature manifest, pinned: repo@sha256:...
	Digest name.Digest
	// Tag is the "sha256-<hex>.sig" tag, for a TagSignature only.
	Tag name.Tag
	// MediaType and Size describe the signature manifest.
	MediaType types.MediaType
	Size      int64
	// ArtifactType is set for a ReferrerSignature.
	ArtifactType string
	// Verified counts the manifest's signature layers that verified.
	Verified int
}

// VerifyImage checks cosign signatures of the image ref, which must be
// pinned by digest, against key. It looks both at the tag
// "sha256-<hex>.sig" and at OCI 1.1 referrers of type
// SignatureArtifactType (through the referrers API, or the referrers tag
// when the registry lacks the API). It talks only to ref's registry and is
// keyed: no transparency log, certificate or TUF root is consulted. It
// holds no state and is safe for concurrent use; the work a registry can
// cause is bounded (at most 64 signature manifests of 64 layers, payloads
// of at most 1 MiB).
//
// A signature counts when it verifies with key over its simple-signing
// payload and that payload names ref's digest. VerifyImage returns the
// signature manifests holding at least one such signature. With none it
// fails: wrapping ErrUnsigned when the image has no cosign signature at all,
// ErrBadSignature when it has some but none verifies. Registry errors other
// than "not found" are returned as they are, wrapped with the image name.
// opts configure the registry client (auth, transport); ctx bounds it.
func VerifyImage(ctx context.Context, ref name.Reference, key *Verifier, opts ...remote.Option) ([]SignatureArtifact, error) {
	d, ok := ref.(name.Digest)
	if !ok {
		return nil, fmt.Errorf("image %s is not pinned by digest; resolve it to repo@sha256:... before verifying its signature", ref)
	}
	want, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", d, err)
	}
	opts = append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
	found, err := findSignatureManifests(d, want, opts)
	if err != nil {
		return nil, err
	}
	return judge(d, key, want, found, opts)
}

// candidate is a signature manifest found for an image, not yet verified.
type candidate struct {
	art      SignatureArtifact
	manifest *v1.Manifest
}

func findSignatureManifests(d name.Digest, want v1.Hash, opts []remote.Option) ([]candidate, error) {
	var found []candidate
	tagged, err := tagSignature(d, want, opts)
	if err != nil {
		return nil, err
	}
	if tagged != nil {
		found = append(found, *tagged)
	}
	referred, err := referrerSignatures(d, opts)
	if err != nil {
		return nil, err
	}
	found = append(found, referred...)
	if len(found) > maxSignatureManifests {
		return nil, fmt.Errorf("image %s has %d signature manifests, more than the %d this check reads; clean up the repository's signatures", d, len(found), maxSignatureManifests)
	}
	return found, nil
}

// signatureTag is cosign's tag for the signatures of the image with digest h.
func signatureTag(repo name.Repository, h v1.Hash) name.Tag {
	return repo.Tag(h.Algorithm + "-" + h.Hex + ".sig")
}

// tagSignature fetches the manifest under the image's ".sig" tag, or returns
// nil when there is none.
func tagSignature(d name.Digest, want v1.Hash, opts []remote.Option) (*candidate, error) {
	tag := signatureTag(d.Context(), want)
	desc, err := remote.Get(tag, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: fetch signature tag %s: %w", d, tag, err)
	}
	m, err := parseSignatureManifest(desc)
	if err != nil {
		return nil, fmt.Errorf("image %s: signature tag %s: %w", d, tag, err)
	}
	return &candidate{manifest: m, art: SignatureArtifact{
		Kind:      TagSignature,
		Digest:    d.Context().Digest(desc.Digest.String()),
		Tag:       tag,
		MediaType: desc.MediaType,
		Size:      desc.Size,
	}}, nil
}

// referrerSignatures fetches every OCI 1.1 referrer of d whose artifactType
// is a cosign signature.
func referrerSignatures(d name.Digest, opts []remote.Option) ([]candidate, error) {
	idx, err := remote.Referrers(d, opts...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: list OCI referrers: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: read OCI referrers: %w", d, err)
	}
	var out []candidate
	for _, desc := range im.Manifests {
		if desc.ArtifactType != SignatureArtifactType {
			continue
		}
		if len(out) == maxSignatureManifests {
			return nil, fmt.Errorf("image %s has more than %d signature referrers; clean up the repository's signatures", d, maxSignatureManifests)
		}
		c, err := referrerSignature(d, desc, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func referrerSignature(d name.Digest, desc v1.Descriptor, opts []remote.Option) (candidate, error) {
	ref := d.Context().Digest(desc.Digest.String())
	got, err := remote.Get(ref, opts...)
	if err != nil {
		return candidate{}, fmt.Errorf("image %s: fetch signature referrer %s: %w", d, ref, err)
	}
	m, err := parseSignatureManifest(got)
	if err != nil {
		return candidate{}, fmt.Errorf("image %s: signature referrer %s: %w", d, ref, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != d.DigestStr() {
		return candidate{}, fmt.Errorf("image %s: signature referrer %s has another subject", d, ref)
	}
	return candidate{manifest: m, art: SignatureArtifact{
		Kind:         ReferrerSignature,
		Digest:       ref,
		MediaType:    got.MediaType,
		Size:         got.Size,
		ArtifactType: desc.ArtifactType,
	}}, nil
}

func parseSignatureManifest(desc *remote.Descriptor) (*v1.Manifest, error) {
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("is a %s, not an image manifest", desc.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if len(m.Layers) > maxSignatureLayers {
		return nil, fmt.Errorf("holds %d layers, more than the %d a signature manifest may have", len(m.Layers), maxSignatureLayers)
	}
	return m, nil
}

// judge verifies every candidate and keeps those with a good signature.
func judge(d name.Digest, key *Verifier, want v1.Hash, found []candidate, opts []remote.Option) ([]SignatureArtifact, error) {
	var good []SignatureArtifact
	var problems []error
	seen := 0
	for _, c := range found {
		n, total, errs := verifyManifest(d, key, want, c, opts)
		seen += total
		problems = append(problems, errs...)
		if n > 0 {
			c.art.Verified = n
			good = append(good, c.art)
		}
	}
	if len(good) > 0 {
		return good, nil
	}
	if seen == 0 {
		return nil, fmt.Errorf("image %s has no cosign signature (neither tag %s nor an OCI 1.1 referrer of type %s): %w; sign it with `cosign sign --key <key> %s`, or get a signed image from its publisher",
			d, signatureTag(d.Context(), want).TagStr(), SignatureArtifactType, ErrUnsigned, d)
	}
	return nil, fmt.Errorf("image %s: %d cosign signature(s) found but none is a valid signature of this image by key %s: %w: signed by another key, altered, or made for another image; get the publisher's right public key or a re-signed image: %v",
		d, seen, key, ErrBadSignature, errors.Join(problems...))
}

// verifyManifest checks each simple-signing layer of c. It returns how many
// verified, how many signature layers there were, and why the others failed.
func verifyManifest(d name.Digest, key *Verifier, want v1.Hash, c candidate, opts []remote.Option) (verified, total int, problems []error) {
	for _, layer := range c.manifest.Layers {
		if layer.MediaType != SimpleSigningMediaType {
			continue
		}
		total++
		if err := verifyLayer(d.Context(), key, want, layer, opts); err != nil {
			problems = append(problems, fmt.Errorf("signature %s in %s: %w", layer.Digest, c.art.Digest.DigestStr(), err))
			continue
		}
		verified++
	}
	return verified, total, problems
}

func verifyLayer(repo name.Repository, key *Verifier, want v1.Hash, layer v1.Descriptor, opts []remote.Option) error {
	sig, err := decodeSignature([]byte(layer.Annotations[SignatureAnnotation]))
	if err != nil {
		return err
	}
	payload, err := fetchPayload(repo, layer, opts)
	if err != nil {
		return err
	}
	if err := key.verifyRaw(payload, sig); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return checkPayload(payload, want)
}

// fetchPayload reads a simple-signing payload blob, bounded in size, and
// checks its digest.
func fetchPayload(repo name.Repository, layer v1.Descriptor, opts []remote.Option) ([]byte, error) {
	if layer.Size < 0 || layer.Size > maxPayloadSize {
		return nil, fmt.Errorf("payload of %d bytes is larger than a signature payload may be (%d)", layer.Size, maxPayloadSize)
	}
	l, err := remote.Layer(repo.Digest(layer.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("fetch payload: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetch payload: %w", err)
	}
	defer rc.Close()
	payload, err := io.ReadAll(io.LimitReader(rc, layer.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read payload: %w", err)
	}
	sum := sha256.Sum256(payload)
	if int64(len(payload)) != layer.Size || layer.Digest.Algorithm != "sha256" || hex.EncodeToString(sum[:]) != layer.Digest.Hex {
		return nil, fmt.Errorf("payload does not match its descriptor %s (%d bytes)", layer.Digest, layer.Size)
	}
	return payload, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
