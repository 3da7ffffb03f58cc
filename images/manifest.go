package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize bounds how much of a manifest is read into memory.
const maxManifestSize = 4 << 20

var acceptManifests = strings.Join([]string{
	string(types.OCIManifestSchema1), string(types.OCIImageIndex),
	string(types.DockerManifestSchema2), string(types.DockerManifestList),
}, ",")

// rawManifest is a manifest's bytes exactly as served, and its descriptor.
type rawManifest struct {
	bytes []byte
	desc  Blob
}

// manifest returns the manifest id (tag or digest) of t, from the cache when
// want (the digest it must have) is set and cached, else from the registry.
// The bytes are checked against want and against the registry's
// Docker-Content-Digest, then stored in the cache unchanged.
func (p *Puller) manifest(ctx context.Context, t target, id, want, what string) (rawManifest, error) {
	if want != "" {
		if m, err := p.cachedManifest(want, what); err == nil {
			return m, nil
		}
	}
	var m rawManifest
	err := p.retry(ctx, what, func() error {
		var err error
		m, err = p.getManifest(ctx, t, id, want, what)
		return err
	})
	if err != nil {
		return m, err
	}
	if err := p.cache.Put(what+" manifest", m.desc.Digest, m.desc.Size, bytes.NewReader(m.bytes)); err != nil {
		return m, err
	}
	return m, nil
}

// cachedManifest reads a manifest from the cache, verifying it as it reads.
func (p *Puller) cachedManifest(digest, what string) (rawManifest, error) {
	rc, size, err := p.cache.Open(digest)
	if err != nil {
		return rawManifest{}, err
	}
	defer rc.Close()
	if size > maxManifestSize {
		return rawManifest{}, fmt.Errorf("%s: cached manifest %s is larger than %d bytes", what, digest, maxManifestSize)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return rawManifest{}, err
	}
	mt, err := manifestMediaType(b, "", what)
	if err != nil {
		return rawManifest{}, err
	}
	return rawManifest{bytes: b, desc: Blob{Digest: digest, MediaType: mt, Size: size}}, nil
}

func (p *Puller) getManifest(ctx context.Context, t target, id, want, what string) (rawManifest, error) {
	resp, err := p.request(ctx, t, http.MethodGet, "manifests", id, acceptManifests)
	if err != nil {
		return rawManifest{}, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if err := checkStatus(resp, t, what); err != nil {
		return rawManifest{}, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return rawManifest{}, fmt.Errorf("%s: reading manifest: %w", what, err)
	}
	if len(b) > maxManifestSize {
		return rawManifest{}, fmt.Errorf("%s: manifest larger than %d bytes", what, maxManifestSize)
	}
	sum := sha256.Sum256(b)
	got := "sha256:" + hex.EncodeToString(sum[:])
	if err := checkManifestDigest(got, want, resp.Header.Get("Docker-Content-Digest"), what); err != nil {
		return rawManifest{}, err
	}
	mt, err := manifestMediaType(b, resp.Header.Get("Content-Type"), what)
	if err != nil {
		return rawManifest{}, err
	}
	return rawManifest{bytes: b, desc: Blob{Digest: got, MediaType: mt, Size: int64(len(b))}}, nil
}

// checkManifestDigest compares the digest of the bytes with the digest they
// must have (want) and the one the registry announced (header).
func checkManifestDigest(got, want, header, what string) error {
	if want != "" && got != want {
		return fmt.Errorf("%s: manifest bytes hash to %s, expected %s: %w", what, got, want, ErrDigestMismatch)
	}
	if header != "" && strings.HasPrefix(header, "sha256:") && header != got {
		return fmt.Errorf("%s: manifest bytes hash to %s, registry's Docker-Content-Digest says %s: %w", what, got, header, ErrDigestMismatch)
	}
	return nil
}

// request sends an authenticated request for kind/id in t's fetch
// repository.
func (p *Puller) request(ctx context.Context, t target, method, kind, id, accept string) (*http.Response, error) {
	client, err := p.clients.get(ctx, t.fetch)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, p.clients.url(t.fetch, kind, id), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return client.Do(req)
}

// checkStatus turns a non-200 answer into an error naming the image; 404
// wraps ErrNotFound.
func checkStatus(resp *http.Response, t target, what string) error {
	err := transport.CheckError(resp, http.StatusOK)
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%s: %w on %s (%v)", what, ErrNotFound, t.fetch.Name(), err)
	}
	return fmt.Errorf("%s from %s: %w", what, t.fetch.Name(), err)
}

// manifestMediaType is the media type the manifest declares, else the one
// the registry sent, else guessed from its shape. Schema 1 and unknown types
// are refused.
func manifestMediaType(b []byte, header, what string) (string, error) {
	var shape struct {
		MediaType string          `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		return "", fmt.Errorf("%s: manifest is not JSON: %w", what, err)
	}
	mt := shape.MediaType
	if mt == "" {
		mt, _, _ = strings.Cut(header, ";")
	}
	if mt == "" || mt == "application/json" || mt == "text/plain" {
		mt = string(types.OCIManifestSchema1)
		if shape.Manifests != nil {
			mt = string(types.OCIImageIndex)
		}
	}
	switch types.MediaType(mt) {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return "", fmt.Errorf("%s: Docker schema 1 manifests are not supported; re-push the image with a current client", what)
	}
	if !knownManifestType(mt) {
		return "", fmt.Errorf("%s: unsupported manifest media type %q", what, mt)
	}
	return mt, nil
}

// knownManifestType: OCI and Docker v2 manifests and indexes.
func knownManifestType(mt string) bool {
	switch types.MediaType(mt) {
	case types.OCIManifestSchema1, types.OCIImageIndex, types.DockerManifestSchema2, types.DockerManifestList:
		return true
	}
	return false
}

func isIndex(mediaType string) bool {
	return types.MediaType(mediaType).IsIndex()
}
