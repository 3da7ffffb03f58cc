package signing

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushCraftedSignature attaches, under image's ".sig" tag, a signature
// manifest with one layer holding payload and the annotation sig (none when
// sig is empty).
func pushCraftedSignature(t *testing.T, image name.Digest, payload []byte, sig string, mediaType types.MediaType) {
	t.Helper()
	add := mutate.Addendum{Layer: static.NewLayer(payload, mediaType)}
	if sig != "" {
		add.Annotations = map[string]string{SignatureAnnotation: sig}
	}
	img, err := mutate.Append(empty.Image, add)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(signatureTag(image.Context(), mustHash(t, image)), img); err != nil {
		t.Fatal(err)
	}
}

func simpleSigningPayload(digest, typ string) []byte {
	return fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":"vendor/app"},"image":{"docker-manifest-digest":%q},"type":%q},"optional":null}`, digest, typ)
}

// TestVerifyImageHostileSignatures runs VerifyImage against signature
// manifests made by hand, each wrong in one way.
func TestVerifyImageHostileSignatures(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/vendor/app")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := newTestSigner(t)
	key := signer.Verifier()
	sign := func(p []byte) string {
		s, err := signer.SignBlob(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(s)
	}

	tests := []struct {
		name      string
		payload   func(digest string) []byte
		sig       func(payload []byte) string
		mediaType types.MediaType
		wantErr   error
		wantMsg   string
	}{
		{
			name:      "well formed",
			payload:   func(d string) []byte { return simpleSigningPayload(d, simpleSigningType) },
			sig:       sign,
			mediaType: SimpleSigningMediaType,
		},
		{
			name:      "no signature annotation",
			payload:   func(d string) []byte { return simpleSigningPayload(d, simpleSigningType) },
			sig:       func([]byte) string { return "" },
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "signature is empty",
		},
		{
			name:      "annotation not base64",
			payload:   func(d string) []byte { return simpleSigningPayload(d, simpleSigningType) },
			sig:       func([]byte) string { return "%%%" },
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "not base64",
		},
		{
			name:      "signature of other bytes",
			payload:   func(d string) []byte { return simpleSigningPayload(d, simpleSigningType) },
			sig:       func(p []byte) string { return sign(append(p, ' ')) },
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "invalid signature",
		},
		{
			name:      "payload of another type",
			payload:   func(d string) []byte { return simpleSigningPayload(d, "atomic container signature") },
			sig:       sign,
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "signed payload has type",
		},
		{
			name:      "payload not JSON",
			payload:   func(string) []byte { return []byte("not json") },
			sig:       sign,
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "not simple-signing JSON",
		},
		{
			name:      "payload too large",
			payload:   func(string) []byte { return make([]byte, maxPayloadSize+1) },
			sig:       func([]byte) string { return base64.StdEncoding.EncodeToString([]byte("x")) },
			mediaType: SimpleSigningMediaType,
			wantErr:   ErrBadSignature,
			wantMsg:   "larger than a signature payload may be",
		},
		{
			name:      "layer of another media type",
			payload:   func(d string) []byte { return simpleSigningPayload(d, simpleSigningType) },
			sig:       sign,
			mediaType: types.OCILayer,
			wantErr:   ErrUnsigned,
			wantMsg:   "has no cosign signature",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image := pushRandomImage(t, repo, fmt.Sprintf("img-%d", i))
			payload := tt.payload(image.DigestStr())
			pushCraftedSignature(t, image, payload, tt.sig(payload), tt.mediaType)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			arts, err := VerifyImage(ctx, image, key)
			if tt.wantErr == nil {
				if err != nil || len(arts) != 1 {
					t.Fatalf("VerifyImage: %d artifacts, error %v; want 1 artifact", len(arts), err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("VerifyImage error %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
			if errors.Is(err, ErrUnsigned) && errors.Is(err, ErrBadSignature) {
				t.Errorf("error is both ErrUnsigned and ErrBadSignature: %v", err)
			}
		})
	}
}
