package siteserver

import (
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// maxManifestSize bounds the manifests the server reads into memory; a blob
// larger than this is never served as a manifest.
const maxManifestSize = 4 << 20

// manifestInfo is what the server needs to know about a blob asked for as a
// manifest.
type manifestInfo struct {
	isManifest   bool
	mediaType    string
	size         int64
	artifactType string
	subject      string
	annotations  map[string]string
	children     []v1.Descriptor // an index's manifests
}

// maxCachedInfos bounds how many blobs' manifestInfo the server keeps.
const maxCachedInfos = 4096

// manifests reads manifests lazily and remembers what it learned about
// blobs of the bundle, the maxCachedInfos most recently used: a digest
// that is not in the bundle is never remembered, so requests for random
// digests cost no memory. Safe for concurrent use.
type manifests struct {
	content content.Content
	log     *slog.Logger

	mu    sync.Mutex
	infos map[string]*list.Element // of *cachedInfo
	lru   list.List                // most recently used first

	referrersOnce sync.Once
	referrers     map[string][]v1.Descriptor // subject digest -> referrers
	referrersErr  error
}

var manifestMediaTypes = []string{
	string(types.OCIManifestSchema1),
	string(types.OCIImageIndex),
	string(types.DockerManifestSchema2),
	string(types.DockerManifestList),
	string(types.DockerManifestSchema1),
	string(types.DockerManifestSchema1Signed),
}

// get returns what the blob with digest is as a manifest, or
// isManifest=false, and with wantBody its verified bytes. The error is
// non-nil only when the blob could not be read or failed verification.
func (m *manifests) get(ctx context.Context, digest string, wantBody bool) (*manifestInfo, []byte, error) {
	info, cached := m.lookup(digest)
	if cached && (!info.isManifest || !wantBody) {
		return info, nil, nil
	}
	path := content.BlobsPrefix + strings.TrimPrefix(digest, "sha256:")
	size, _, ok := m.content.Stat(path)
	if !ok || size > maxManifestSize {
		return &manifestInfo{}, nil, nil // Stat is cheap: nothing to remember
	}
	raw, err := readAll(ctx, m.content, path, size)
	if err != nil {
		return nil, nil, err
	}
	if !cached {
		info = m.remember(digest, parseManifest(raw))
	}
	return info, raw, nil
}

// cachedInfo is one entry of the manifests' cache.
type cachedInfo struct {
	digest string
	info   *manifestInfo
}

func newManifests(c content.Content, log *slog.Logger) *manifests {
	return &manifests{content: c, log: log, infos: map[string]*list.Element{}}
}

// lookup returns what is remembered about digest.
func (m *manifests) lookup(digest string) (*manifestInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.infos[digest]
	if !ok {
		return nil, false
	}
	m.lru.MoveToFront(e)
	return e.Value.(*cachedInfo).info, true
}

// remember keeps info about digest, a blob of the bundle, dropping the
// least recently used entry when the cache is full, and returns what is
// remembered (an earlier entry wins).
func (m *manifests) remember(digest string, info *manifestInfo) *manifestInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.infos[digest]; ok {
		m.lru.MoveToFront(e)
		return e.Value.(*cachedInfo).info
	}
	m.infos[digest] = m.lru.PushFront(&cachedInfo{digest, info})
	for m.lru.Len() > maxCachedInfos {
		old := m.lru.Remove(m.lru.Back()).(*cachedInfo)
		delete(m.infos, old.digest)
	}
	return info
}

// cacheLen returns how many blobs the cache remembers (for tests).
func (m *manifests) cacheLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// parseManifest recognises an image manifest or index, with or without a
// mediaType field (OCI allows leaving it out).
func parseManifest(raw []byte) *manifestInfo {
	var doc struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        *v1.Descriptor    `json:"config"`
		Layers        json.RawMessage   `json:"layers"`
		Manifests     []v1.Descriptor   `json:"manifests"`
		Subject       *v1.Descriptor    `json:"subject"`
		Annotations   map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return &manifestInfo{}
	}
	info := &manifestInfo{
		mediaType: doc.MediaType, size: int64(len(raw)), artifactType: doc.ArtifactType,
		annotations: doc.Annotations, children: doc.Manifests,
	}
	switch {
	case info.mediaType != "":
	case doc.Manifests != nil:
		info.mediaType = string(types.OCIImageIndex)
	case doc.Config != nil && doc.Layers != nil:
		info.mediaType = string(types.OCIManifestSchema1)
	}
	info.isManifest = slices.Contains(manifestMediaTypes, info.mediaType)
	if doc.Subject != nil {
		info.subject = doc.Subject.Digest.String()
	}
	if info.artifactType == "" && doc.Config != nil && info.mediaType == string(types.OCIManifestSchema1) {
		info.artifactType = string(doc.Config.MediaType) // the referrers API's rule
	}
	return info
}

// referrersOf returns the descriptors of the manifests whose subject is
// digest, sorted by digest. The first call walks every manifest reachable
// from index.json once; later calls are served from memory.
func (m *manifests) referrersOf(ctx context.Context, top []v1.Descriptor, digest string) ([]v1.Descriptor, error) {
	m.referrersOnce.Do(func() {
		// The walk must finish whatever happens to the request that
		// started it, because its result is shared.
		m.referrers, m.referrersErr = m.walkReferrers(context.WithoutCancel(ctx), top)
		if m.referrersErr != nil {
			m.log.Error("referrers: reading the bundle's manifests failed", "err", m.referrersErr)
		}
	})
	return m.referrers[digest], m.referrersErr
}

func (m *manifests) walkReferrers(ctx context.Context, top []v1.Descriptor) (map[string][]v1.Descriptor, error) {
	out := map[string][]v1.Descriptor{}
	seen := map[string]bool{}
	queue := slices.Clone(top)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		dg := d.Digest.String()
		if seen[dg] || !isDigest(dg) {
			continue
		}
		seen[dg] = true
		info, _, err := m.get(ctx, dg, false)
		if err != nil {
			return nil, err
		}
		if !info.isManifest {
			continue
		}
		queue = append(queue, info.children...)
		if info.subject != "" {
			out[info.subject] = append(out[info.subject], referrerDescriptor(dg, info))
		}
	}
	for _, ds := range out {
		slices.SortFunc(ds, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	}
	return out, nil
}

func referrerDescriptor(digest string, info *manifestInfo) v1.Descriptor {
	h, err := v1.NewHash(digest)
	if err != nil {
		panic(fmt.Sprintf("siteserver: checked digest %q does not parse: %v", digest, err))
	}
	return v1.Descriptor{
		MediaType: types.MediaType(info.mediaType), Digest: h, Size: info.size,
		ArtifactType: info.artifactType, Annotations: info.annotations,
	}
}
