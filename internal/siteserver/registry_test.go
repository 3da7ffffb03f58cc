package siteserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []apiError `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not a distribution error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code
}

func TestManifestsByTagAndDigest(t *testing.T) {
	l := newLayout(t)
	for backend, src := range backends(t, l) {
		t.Run(backend, func(t *testing.T) { testManifests(t, l, startServerFor(t, src, true)) })
	}
}

func testManifests(t *testing.T, l *testLayout, rs *running) {
	for _, img := range l.images {
		for _, ref := range []string{img.tag, img.digest} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				t.Run(method+" "+img.repo+" "+ref, func(t *testing.T) {
					resp, body, err := rs.do(t, method, "/v2/"+img.repo+"/manifests/"+ref,
						map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"}) // never converted
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d: %s", resp.StatusCode, body)
					}
					if got := resp.Header.Get("Content-Type"); got != img.mediaType {
						t.Errorf("Content-Type %q, want the stored %q", got, img.mediaType)
					}
					if got := resp.Header.Get("Docker-Content-Digest"); got != img.digest {
						t.Errorf("Docker-Content-Digest %q, want %q", got, img.digest)
					}
					if want := blobSize(l.dir, img.digest); resp.ContentLength != want {
						t.Errorf("Content-Length %d, want %d", resp.ContentLength, want)
					}
					if method == http.MethodGet && sha256Digest(body) != img.digest {
						t.Errorf("body digest %s, want %s", sha256Digest(body), img.digest)
					}
				})
			}
		}
	}
}

func TestRegistryErrorsAndNames(t *testing.T) {
	l := newLayout(t)
	rs := startServer(t, l.dir, false)
	app := l.image(t, "registry.factory.example/library/app")
	db := l.image(t, "docker.io/library/db")
	missing := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name, method, path string
		status             int
		code               string // distribution error code, or "" for success
		digest             string // expected Docker-Content-Digest on success
	}{
		{"ping", "GET", "/v2/", 200, "", ""},
		{"mirror ns", "GET", "/v2/library/app/manifests/1.0?ns=registry.factory.example", 200, "", app.digest},
		{"docker hub short name", "GET", "/v2/db/manifests/1.0?ns=docker.io", 200, "", db.digest},
		{"docker hub library name", "HEAD", "/v2/library/db/manifests/1.0?ns=docker.io", 200, "", db.digest},
		{"ghcr mirror", "GET", "/v2/factory/logs/manifests/1.0?ns=ghcr.io", 200, "", l.image(t, "ghcr.io/factory/logs").digest},
		{"unknown tag", "GET", "/v2/docker.io/library/db/manifests/9.9", 404, codeManifestUnknown, ""},
		{"unknown manifest digest", "GET", "/v2/docker.io/library/db/manifests/" + missing, 404, codeManifestUnknown, ""},
		{"blob asked as manifest", "GET", "/v2/docker.io/library/db/manifests/" + l.bigBlob, 404, codeManifestUnknown, ""},
		{"unknown repository", "GET", "/v2/docker.io/library/nope/manifests/1.0", 404, codeNameUnknown, ""},
		{"unknown blob", "GET", "/v2/docker.io/library/db/blobs/" + missing, 404, codeBlobUnknown, ""},
		{"bad digest", "GET", "/v2/docker.io/library/db/blobs/nodigest", 400, codeDigestInvalid, ""},
		{"invalid name", "GET", "/v2/Docker.io/UPPER/manifests/1.0", 400, codeNameInvalid, ""},
		{"push refused", "PUT", "/v2/docker.io/library/db/manifests/2.0", 405, codeUnsupported, ""},
		{"upload refused", "POST", "/v2/docker.io/library/db/blobs/uploads/", 405, codeUnsupported, ""},
		{"delete refused", "DELETE", "/v2/docker.io/library/db/manifests/" + db.digest, 405, codeUnsupported, ""},
		{"patch refused", "PATCH", "/v2/docker.io/library/db/blobs/uploads/x", 405, codeUnsupported, ""},
		{"blob under another repository", "HEAD", "/v2/docker.io/calico/web/blobs/" + l.bigBlob, 200, "", l.bigBlob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := rs.do(t, tc.method, tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
				t.Error("no Docker-Distribution-API-Version header")
			}
			if tc.code != "" {
				if got := errorCode(t, body); got != tc.code {
					t.Errorf("error code %s, want %s", got, tc.code)
				}
			}
			if tc.digest != "" && resp.Header.Get("Docker-Content-Digest") != tc.digest {
				t.Errorf("Docker-Content-Digest %q, want %q", resp.Header.Get("Docker-Content-Digest"), tc.digest)
			}
		})
	}
}

func TestBlobRanges(t *testing.T) {
	l := newLayout(t)
	for backend, src := range backends(t, l) {
		t.Run(backend, func(t *testing.T) { testBlobRanges(t, l, startServerFor(t, src, true)) })
	}
}

func testBlobRanges(t *testing.T, l *testLayout, rs *running) {
	full := readFile(t, blobPath(l.dir, l.bigBlob))
	size := int64(len(full))
	path := "/v2/docker.io/library/db/blobs/" + l.bigBlob
	tests := []struct {
		rng          string
		status       int
		off, n       int64
		contentRange string
	}{
		{"", 200, 0, size, ""},
		{"bytes=0-0", 206, 0, 1, "bytes 0-0/" + itoa(size)},
		{"bytes=100-199999", 206, 100, 199900, "bytes 100-199999/" + itoa(size)},
		{"bytes=1000-", 206, 1000, size - 1000, "bytes 1000-" + itoa(size-1) + "/" + itoa(size)},
		{"bytes=-500", 206, size - 500, 500, "bytes " + itoa(size-500) + "-" + itoa(size-1) + "/" + itoa(size)},
		{"bytes=10-" + itoa(size+100), 206, 10, size - 10, "bytes 10-" + itoa(size-1) + "/" + itoa(size)},
		{"bytes=" + itoa(size) + "-", 416, 0, 0, "bytes */" + itoa(size)},
		{"bytes=20-10", 416, 0, 0, "bytes */" + itoa(size)},
		{"bytes=x-y", 416, 0, 0, "bytes */" + itoa(size)},
		{"bytes=0-1,5-6", 200, 0, size, ""}, // several ranges: the whole blob
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.rng != "" {
				hdr["Range"] = tc.rng
			}
			resp, body, err := rs.do(t, "GET", path, hdr)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
			if tc.status == 416 {
				return
			}
			if !slices.Equal(body, full[tc.off:tc.off+tc.n]) {
				t.Errorf("body is %d bytes, not bytes [%d, +%d) of the blob", len(body), tc.off, tc.n)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		resp, body, err := rs.do(t, "HEAD", path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != size || len(body) != 0 {
			t.Errorf("HEAD: status %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(body))
		}
		if resp.Header.Get("Docker-Content-Digest") != l.bigBlob {
			t.Errorf("Docker-Content-Digest %q", resp.Header.Get("Docker-Content-Digest"))
		}
	})
}

func TestTagsAndCatalogPagination(t *testing.T) {
	l := newLayout(t)
	rs := startServer(t, l.dir, false)
	var repos []string
	for _, i := range l.images {
		repos = append(repos, i.repo)
	}
	slices.Sort(repos)
	tests := []struct {
		path string
		want []string
		link string
	}{
		{"/v2/_catalog", repos, ""},
		{"/v2/_catalog?n=2", repos[:2], `</v2/_catalog?last=` + strings.ReplaceAll(repos[1], "/", "%2F") + `&n=2>; rel="next"`},
		{"/v2/_catalog?n=2&last=" + repos[1], repos[2:4], `</v2/_catalog?last=` + strings.ReplaceAll(repos[3], "/", "%2F") + `&n=2>; rel="next"`},
		{"/v2/_catalog?n=10&last=" + repos[3], repos[4:], ""},
		{"/v2/_catalog?n=0", []string{}, ""},
		{"/v2/quay.io/org/multi/tags/list", []string{"1.0"}, ""},
		{"/v2/quay.io/org/multi/tags/list?last=1.0", []string{}, ""},
		{"/v2/quay.io/org/multi/tags/list?n=1", []string{"1.0"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body, err := rs.do(t, "GET", tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got struct {
				Repositories []string `json:"repositories"`
				Tags         []string `json:"tags"`
				Name         string   `json:"name"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			list := got.Repositories
			if strings.Contains(tc.path, "/tags/list") {
				list = got.Tags
				if got.Name != "quay.io/org/multi" {
					t.Errorf("name %q", got.Name)
				}
			}
			if list == nil || !slices.Equal(list, tc.want) {
				t.Errorf("got %q, want %q", list, tc.want)
			}
			if link := resp.Header.Get("Link"); link != tc.link {
				t.Errorf("Link %q, want %q", link, tc.link)
			}
		})
	}
}

func TestReferrers(t *testing.T) {
	l := newLayout(t)
	rs := startServer(t, l.dir, false)
	tests := []struct {
		name, query, subject string
		want                 int
		filtered             bool
	}{
		{"all", "", l.subject, 2, false},
		{"sbom only", "?artifactType=" + url.QueryEscape(sbomType), l.subject, 1, true},
		{"no match", "?artifactType=application/none", l.subject, 0, true},
		{"no referrers", "", l.image(t, "docker.io/library/db").digest, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, err := rs.do(t, "GET", "/v2/registry.factory.example/library/app/referrers/"+tc.subject+tc.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
				t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if got := resp.Header.Get("OCI-Filters-Applied") == "artifactType"; got != tc.filtered {
				t.Errorf("OCI-Filters-Applied set: %v, want %v", got, tc.filtered)
			}
			var idx v1.IndexManifest
			if err := json.Unmarshal(body, &idx); err != nil {
				t.Fatal(err)
			}
			if len(idx.Manifests) != tc.want || !strings.Contains(string(body), `"manifests":[`) {
				t.Fatalf("%d referrers, want %d: %s", len(idx.Manifests), tc.want, body)
			}
			for _, d := range idx.Manifests {
				if !slices.Contains(l.referrers, d.Digest.String()) || d.ArtifactType == "" ||
					d.Size != blobSize(l.dir, d.Digest.String()) || d.Annotations["org.example.kind"] != d.ArtifactType {
					t.Errorf("unexpected referrer descriptor %+v", d)
				}
			}
		})
	}
}

func TestFilesReposChartsAndCACert(t *testing.T) {
	l := newLayout(t)
	rs := startServer(t, l.dir, true)
	for p, body := range testFiles {
		t.Run(p, func(t *testing.T) {
			resp, got, err := rs.do(t, "GET", "/"+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			etag := `"` + sha256Digest([]byte(body)) + `"`
			if resp.StatusCode != 200 || string(got) != body || resp.Header.Get("ETag") != etag {
				t.Fatalf("status %d, ETag %q (want %q), body %q", resp.StatusCode, resp.Header.Get("ETag"), etag, got)
			}
			resp, got, _ = rs.do(t, "GET", "/"+p, map[string]string{"Range": "bytes=2-4"})
			if resp.StatusCode != 206 || string(got) != body[2:5] {
				t.Errorf("range: status %d, body %q", resp.StatusCode, got)
			}
			resp, _, _ = rs.do(t, "GET", "/"+p, map[string]string{"If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: status %d", resp.StatusCode)
			}
		})
	}
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/repos/base/", 200, "Packages/\nrepodata/\n"},
		{"/repos/base/repodata/", 200, "repomd.xml\n"},
		{"/repos/none/repomd.xml", 404, ""},
		{"/repos/../index.json", 400, ""},
		{"/files/../blobs/sha256/" + strings.TrimPrefix(l.bigBlob, "sha256:"), 400, ""},
		{"/ca.crt", 200, string(readFile(t, rs.caCertPath))},
		{"/index.json", 404, ""},
		{"/ca.key", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, got, err := rs.do(t, "GET", tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || (tc.body != "" && string(got) != tc.body) {
				t.Errorf("status %d, want %d; body %q", resp.StatusCode, tc.status, got)
			}
		})
	}
}
