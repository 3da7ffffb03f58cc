package signing

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Names cosign gives the pieces of an image signature.
const (
	// SimpleSigningMediaType is the media type of the layer that holds the
	// signed payload.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds, on that layer, the base64 signature of the
	// payload.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// SignatureArtifactType is the artifactType of a signature stored as an
	// OCI 1.1 referrer (cosign sign --registry-referrers-mode=oci-1-1).
	SignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// simpleSigningType is the critical.type cosign writes.
	simpleSigningType = "cosign container image signature"
)

// simpleSigning is the part of a cosign simple-signing payload that binds a
// signature to an image. The identity (docker-reference) is not checked: an
// image keeps its signature when it is mirrored under another name, which is
// exactly what a bundle does.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// checkPayload verifies that a signed payload is a cosign image signature
// for the manifest digest want. Call it only on a payload whose signature
// verified.
func checkPayload(payload []byte, want v1.Hash) error {
	var ss simpleSigning
	if err := json.Unmarshal(payload, &ss); err != nil {
		return fmt.Errorf("signed payload is not simple-signing JSON: %w", err)
	}
	if ss.Critical.Type != simpleSigningType {
		return fmt.Errorf("signed payload has type %q, not %q", ss.Critical.Type, simpleSigningType)
	}
	if got := ss.Critical.Image.DockerManifestDigest; got != want.String() {
		return fmt.Errorf("signed payload is for image digest %s, not %s: a signature copied from another image", got, want)
	}
	return nil
}
