package siteserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// maxIndexSize bounds index.json: a larger one is refused.
const maxIndexSize = 64 << 20

// Annotations that name an image in the layout's index.json.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// catalog maps repository names and tags to manifest descriptors. It is
// built once at start-up from index.json alone, so start-up does not read
// any blob, and it is read-only afterwards (safe for concurrent use).
type catalog struct {
	repos map[string]map[string]v1.Descriptor // repo -> tag -> manifest
	names []string                            // sorted repository names
	top   []v1.Descriptor                     // index.json's manifests
}

// loadCatalog reads index.json from c. An image is served under the
// repository of its io.containerd.image.name annotation and of its
// org.opencontainers.image.ref.name annotation when that is a full
// reference. Two different manifests under one repository:tag are an error.
func loadCatalog(ctx context.Context, c content.Content) (*catalog, error) {
	idx, err := readIndex(ctx, c)
	if err != nil {
		return nil, err
	}
	cat := &catalog{repos: map[string]map[string]v1.Descriptor{}, top: idx.Manifests}
	for _, d := range idx.Manifests {
		if !isDigest(d.Digest.String()) {
			return nil, fmt.Errorf("index.json: manifest %q: only sha256 digests are supported", d.Digest)
		}
		for _, ref := range descriptorRefs(d) {
			if err := cat.add(ref, d); err != nil {
				return nil, err
			}
		}
	}
	for name := range cat.repos {
		cat.names = append(cat.names, name)
	}
	sort.Strings(cat.names)
	return cat, nil
}

func readIndex(ctx context.Context, c content.Content) (*v1.IndexManifest, error) {
	size, _, ok := c.Stat(content.IndexPath)
	if !ok {
		return nil, fmt.Errorf("the bundle has no %s: it holds no OCI image layout", content.IndexPath)
	}
	if size > maxIndexSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this server reads", content.IndexPath, size, maxIndexSize)
	}
	raw, err := readAll(ctx, c, content.IndexPath, size)
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", content.IndexPath, err)
	}
	return &idx, nil
}

// readAll reads a whole, small entry, verified.
func readAll(ctx context.Context, c content.Content, path string, size int64) ([]byte, error) {
	rc, err := c.Open(ctx, path, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, 0, size)
	b, err := readFullVerified(rc, buf)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// readFullVerified reads r to a clean io.EOF into buf.
func readFullVerified(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 512)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// descriptorRefs returns the full references an index.json entry names.
func descriptorRefs(d v1.Descriptor) []imageRef {
	var refs []imageRef
	for _, key := range []string{annotationContainerdName, annotationRefName} {
		if r, ok := parseRef(d.Annotations[key]); ok && !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	return refs
}

func (c *catalog) add(ref imageRef, d v1.Descriptor) error {
	tags := c.repos[ref.repo]
	if tags == nil {
		tags = map[string]v1.Descriptor{}
		c.repos[ref.repo] = tags
	}
	if ref.digest != "" && ref.digest != d.Digest.String() {
		return fmt.Errorf("index.json: %s@%s names manifest %s", ref.repo, ref.digest, d.Digest)
	}
	if ref.tag == "" {
		return nil
	}
	if prev, ok := tags[ref.tag]; ok && prev.Digest != d.Digest {
		return fmt.Errorf("index.json: %s:%s names two manifests, %s and %s; the bundle is inconsistent, rebuild it", ref.repo, ref.tag, prev.Digest, d.Digest)
	}
	tags[ref.tag] = d
	return nil
}

// resolve returns the repository a request for name (with containerd's ns
// parameter) means, or ok=false.
func (c *catalog) resolve(name, ns string) (string, bool) {
	for _, cand := range mirrorCandidates(name, ns) {
		if _, ok := c.repos[cand]; ok {
			return cand, true
		}
	}
	return "", false
}

// tags returns the repository's tags, sorted.
func (c *catalog) tags(repo string) []string {
	tags := make([]string, 0, len(c.repos[repo]))
	for t := range c.repos[repo] {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	return tags
}
