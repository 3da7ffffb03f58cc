package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Signatures fetches what refers to img: the cosign signature tag
// sha256-<hex>.sig, and the OCI 1.1 referrers (the referrers API, or the
// sha256-<hex> tag where the registry lacks it). Each is returned as an
// Image whose Subject is img.Digest. Missing ones are not an error;
// verifying them is another package's job.
func (p *Puller) Signatures(ctx context.Context, img *Image) ([]*Image, error) {
	t, err := p.opts.parse(img.Name, "")
	if err != nil {
		return nil, err
	}
	hexPart := strings.TrimPrefix(img.Digest, "sha256:")
	var out []*Image
	sig, err := p.pullOptional(ctx, t.withTag("sha256-"+hexPart+".sig"), img.Digest)
	if err != nil {
		return nil, err
	}
	if sig != nil {
		out = append(out, sig)
	}
	refs, err := p.referrers(ctx, t, img.Digest)
	if err != nil {
		return nil, err
	}
	for _, d := range refs {
		r, err := p.pullOptional(ctx, t.withDigest(d.Digest), img.Digest)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// withTag is t's repository at tag.
func (t target) withTag(tag string) target {
	t.tag, t.digest = tag, ""
	t.written = t.canonRepo + ":" + tag
	return t
}

// withDigest is t's repository at digest.
func (t target) withDigest(digest string) target {
	t.tag, t.digest = "", digest
	t.written = t.canonRepo + "@" + digest
	return t
}

// pullOptional pulls t, returning nil when it does not exist or has no
// manifest for the platform.
func (p *Puller) pullOptional(ctx context.Context, t target, subject string) (*Image, error) {
	img, err := p.pull(ctx, t, subject)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoPlatform) {
		return nil, nil
	}
	return img, err
}

// referrers lists the manifests referring to digest: from the referrers
// API when the registry has it, else from the sha256-<hex> tag index.
func (p *Puller) referrers(ctx context.Context, t target, digest string) ([]Blob, error) {
	what := "referrers of " + t.canonRepo + "@" + digest
	var idx []byte
	err := p.retry(ctx, what, func() error {
		var err error
		idx, err = p.referrersAPI(ctx, t, digest, what)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		m, ferr := p.manifest(ctx, t.withTag(strings.Replace(digest, ":", "-", 1)), strings.Replace(digest, ":", "-", 1), "", what)
		if errors.Is(ferr, ErrNotFound) {
			return nil, nil
		}
		idx, err = m.bytes, ferr
	}
	if err != nil {
		return nil, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(idx))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var out []Blob
	for i := range im.Manifests {
		out = append(out, descBlob(&im.Manifests[i]))
	}
	return out, nil
}

func (p *Puller) referrersAPI(ctx context.Context, t target, digest, what string) ([]byte, error) {
	resp, err := p.request(ctx, t, http.MethodGet, "referrers", digest, string(types.OCIImageIndex))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode == http.StatusOK && !strings.HasPrefix(ct, string(types.OCIImageIndex)) {
		// Not a referrers answer (e.g. a registry's HTML or JSON 200 page):
		// treat the API as absent.
		return nil, fmt.Errorf("%s: %w (Content-Type %q)", what, ErrNotFound, ct)
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return nil, fmt.Errorf("%s: the registry has no referrers API (%s): %w", what, resp.Status, ErrNotFound)
	}
	if err := checkStatus(resp, t, what); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxManifestSize))
}
