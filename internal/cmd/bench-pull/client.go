package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

var acceptManifests = strings.Join([]string{mtOCIManifest, mtOCIIndex, mtDockerManifest, mtDockerList}, ", ")

// client is a minimal distribution-API reader. It is safe for concurrent
// use.
type client struct {
	base   string
	http   *http.Client
	verify bool
}

func newClient(base string, conns int, verify bool) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		DisableCompression:  true,
	}
	return &client{base: base, http: &http.Client{Transport: tr}, verify: verify}
}

// descriptor is the part of an OCI descriptor the client needs.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform,omitempty"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

// blobJob is one blob to fetch from one repository.
type blobJob struct {
	repo string
	desc descriptor
}

type stats struct{ blobs, bytes int64 }

// ping reports whether GET /v2/ answers 200.
func (c *client) ping(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// pullAll fetches the manifests of refs, then every blob of every image,
// each step with n goroutines.
func (c *client) pullAll(ctx context.Context, refs []imageRef, n int) (stats, error) {
	jobs := make([][]blobJob, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for i, r := range refs {
		g.Go(func() error {
			m, err := c.imageManifest(gctx, r)
			if err != nil {
				return err
			}
			jobs[i] = append(jobs[i], blobJob{r.repo, m.Config})
			for _, l := range m.Layers {
				jobs[i] = append(jobs[i], blobJob{r.repo, l})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return stats{}, err
	}
	var all []blobJob
	for _, j := range jobs {
		all = append(all, j...)
	}
	return c.fetchBlobs(ctx, all, n)
}

func (c *client) fetchBlobs(ctx context.Context, all []blobJob, n int) (stats, error) {
	var st stats
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	buf := sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
	for range n {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(all) {
					return nil
				}
				b := buf.Get().(*[]byte)
				got, err := c.blob(gctx, all[i], *b)
				buf.Put(b)
				if err != nil {
					return err
				}
				atomic.AddInt64(&st.blobs, 1)
				atomic.AddInt64(&st.bytes, got)
			}
		})
	}
	return st, g.Wait()
}

// imageManifest fetches repo:tag, and from an index its linux/amd64 image.
func (c *client) imageManifest(ctx context.Context, r imageRef) (*manifest, error) {
	m, err := c.manifest(ctx, r.repo, r.tag)
	if err != nil || len(m.Manifests) == 0 {
		return m, err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
			return c.manifest(ctx, r.repo, d.Digest)
		}
	}
	return nil, fmt.Errorf("%s:%s: the index has no linux/amd64 image", r.repo, r.tag)
}

func (c *client) manifest(ctx context.Context, repo, ref string) (*manifest, error) {
	url := c.base + "/v2/" + repo + "/manifests/" + ref
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var m manifest
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return &m, nil
}

// blob fetches one blob, checks its size (and digest with verify), and
// returns the bytes read.
func (c *client) blob(ctx context.Context, j blobJob, buf []byte) (int64, error) {
	url := c.base + "/v2/" + j.repo + "/blobs/" + j.desc.Digest
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var dst io.Writer = io.Discard
	var h hash.Hash
	if c.verify {
		h = sha256.New()
		dst = h
	}
	n, err := io.CopyBuffer(dst, struct{ io.Reader }{resp.Body}, buf)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", url, err)
	}
	if n != j.desc.Size {
		return n, fmt.Errorf("GET %s: got %d bytes, the manifest says %d", url, n, j.desc.Size)
	}
	if h != nil && "sha256:"+hex.EncodeToString(h.Sum(nil)) != j.desc.Digest {
		return n, fmt.Errorf("GET %s: content does not match its digest", url)
	}
	return n, nil
}
