package siteserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// serveRegistry answers /v2/: the read side of the OCI distribution spec.
// Every write method is refused with 405 UNSUPPORTED.
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: it serves the bundle's content")
		return
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v2"), "/")
	switch rest {
	case "":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			w.Write([]byte("{}"))
		}
		return
	case "_catalog":
		s.serveCatalog(w, r)
		return
	}
	name, kind, ref, ok := splitRegistryPath(rest)
	if !ok {
		writeError(w, r, http.StatusNotFound, codeNameUnknown, "no such endpoint: "+r.URL.Path)
		return
	}
	if !validRepoName(name) {
		writeError(w, r, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("%q is not a repository name", name))
		return
	}
	repo, ok := s.catalog.resolve(name, r.URL.Query().Get("ns"))
	if !ok {
		writeError(w, r, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %q is not in the bundle", name))
		return
	}
	switch kind {
	case "manifests":
		s.serveManifest(w, r, repo, ref)
	case "blobs":
		s.serveBlob(w, r, ref)
	case "referrers":
		s.serveReferrers(w, r, ref)
	case "tags":
		s.serveTags(w, r, repo)
	}
}

// splitRegistryPath splits "<name>/manifests/<ref>", "<name>/blobs/<digest>",
// "<name>/referrers/<digest>" and "<name>/tags/list". The last components
// decide, since a repository name may itself contain "manifests".
func splitRegistryPath(rest string) (name, kind, ref string, ok bool) {
	parts := strings.Split(rest, "/")
	n := len(parts)
	if n < 3 {
		return "", "", "", false
	}
	name, kind, ref = strings.Join(parts[:n-2], "/"), parts[n-2], parts[n-1]
	switch {
	case kind == "tags" && ref == "list":
		return name, kind, "", true
	case kind == "manifests" || kind == "blobs" || kind == "referrers":
		return name, kind, ref, ref != ""
	}
	return "", "", "", false
}

// serveManifest answers a manifest by tag or digest with the manifest's
// stored bytes and its own media type, whatever the Accept header says: the
// server never converts a manifest, since that would change its digest. Any
// manifest of the bundle is served by digest under any of its repositories;
// the bundle is one trust domain.
func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	digest := ref
	if !looksLikeDigest(ref) {
		d, ok := s.catalog.repos[repo][ref]
		if !ok {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("%s:%s is not in the bundle", repo, ref))
			return
		}
		digest = d.Digest.String()
	} else if !isDigest(ref) {
		writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("%s@%s is not in the bundle (it holds sha256 digests only)", repo, ref))
		return
	}
	info, raw, err := s.manifests.get(r.Context(), digest, r.Method == http.MethodGet)
	if err != nil {
		s.failBeforeHeaders(w, r, entry{path: content.BlobsPrefix + strings.TrimPrefix(digest, "sha256:"), digest: digest}, err)
		return
	}
	if !info.isManifest {
		writeError(w, r, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("%s@%s is not in the bundle", repo, digest))
		return
	}
	h := w.Header()
	h.Set("Content-Type", info.mediaType)
	h.Set("Docker-Content-Digest", digest)
	h.Set("ETag", `"`+digest+`"`)
	h.Set("Content-Length", itoa(info.size))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(raw)
}

func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, digest string) {
	if !isDigest(digest) {
		status, code := http.StatusNotFound, codeBlobUnknown
		if !looksLikeDigest(digest) {
			status, code = http.StatusBadRequest, codeDigestInvalid
		}
		writeError(w, r, status, code, fmt.Sprintf("blob %q is not in the bundle", digest))
		return
	}
	path := content.BlobsPrefix + strings.TrimPrefix(digest, "sha256:")
	size, _, ok := s.content.Stat(path)
	if !ok {
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in the bundle", digest))
		return
	}
	w.Header().Set("Docker-Content-Digest", digest)
	s.sendEntry(w, r, entry{path: path, size: size, digest: digest, contentType: "application/octet-stream"})
}

// serveReferrers answers the OCI 1.1 referrers API: an image index of the
// manifests whose subject is digest, filtered by artifactType when asked.
func (s *Server) serveReferrers(w http.ResponseWriter, r *http.Request, digest string) {
	if !looksLikeDigest(digest) {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("%q is not a digest", digest))
		return
	}
	refs, err := s.manifests.referrersOf(r.Context(), s.catalog.top, digest)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, "reading the bundle's manifests failed; see the server log")
		return
	}
	out := make([]v1.Descriptor, 0, len(refs))
	filter := r.URL.Query().Get("artifactType")
	for _, d := range refs {
		if filter == "" || d.ArtifactType == filter {
			out = append(out, d)
		}
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, r, string(types.OCIImageIndex), v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: out})
}

func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, repo string) {
	page, next, ok := paginate(w, r, s.catalog.tags(repo))
	if !ok {
		return
	}
	if next != "" {
		setNextLink(w, r, next)
	}
	writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, page})
}

func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request) {
	page, next, ok := paginate(w, r, s.catalog.names)
	if !ok {
		return
	}
	if next != "" {
		setNextLink(w, r, next)
	}
	writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// paginate applies the n and last query parameters to a sorted list. next is
// the last item of the page when more items follow.
func paginate(w http.ResponseWriter, r *http.Request, all []string) (page []string, next string, ok bool) {
	q := r.URL.Query()
	start := 0
	if last := q.Get("last"); last != "" {
		for start < len(all) && all[start] <= last {
			start++
		}
	}
	page = all[start:]
	if nq := q.Get("n"); nq != "" {
		n, err := strconv.Atoi(nq)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, codePaginationInval, fmt.Sprintf("n=%q is not a count", nq))
			return nil, "", false
		}
		if n < len(page) {
			page = page[:n]
			if n > 0 {
				next = page[n-1]
			}
		}
	}
	return append(make([]string, 0, len(page)), page...), next, true
}

func setNextLink(w http.ResponseWriter, r *http.Request, last string) {
	q := url.Values{}
	q.Set("n", r.URL.Query().Get("n"))
	q.Set("last", last)
	if ns := r.URL.Query().Get("ns"); ns != "" {
		q.Set("ns", ns)
	}
	w.Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
}

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, err.Error())
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}
