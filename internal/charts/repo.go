package charts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// maxIndexSize bounds a repository's index.yaml, which is parsed in memory.
// The largest public indexes are a few tens of MiB.
const maxIndexSize = 128 << 20

// indexFile is the part of a chart repository's index.yaml we read.
type indexFile struct {
	Entries map[string][]indexEntry `yaml:"entries"`
}

type indexEntry struct {
	Name    string   `yaml:"name"`
	Version string   `yaml:"version"`
	URLs    []string `yaml:"urls"`
	Digest  string   `yaml:"digest"` // hex sha256 of the .tgz, optional
}

// fetchRepo resolves the chart's version in the repository's index.yaml and
// downloads its archive into the cache.
func (f *Fetcher) fetchRepo(ctx context.Context, c manifest.Chart, pin *lock.Chart) (*Fetched, error) {
	if got, ok := f.cached(c, pin, c.Repo); ok {
		return got, nil
	}
	client := &http.Client{Transport: f.guard, Timeout: 10 * time.Minute}
	idx, err := f.readIndex(ctx, client, c.Repo)
	if err != nil {
		return nil, err
	}
	entries := idx.Entries[c.Name]
	if len(entries) == 0 {
		return nil, fmt.Errorf("repository %s has no chart %s (its index.yaml lists %d charts); check the name", c.Repo, c.Name, len(idx.Entries))
	}
	entry, err := pickEntry(c, entries, pin)
	if err != nil {
		return nil, err
	}
	if len(entry.URLs) == 0 {
		return nil, fmt.Errorf("repository %s lists %s %s without a URL", c.Repo, c.Name, entry.Version)
	}
	u, err := chartURL(c.Repo, entry.URLs[0])
	if err != nil {
		return nil, err
	}
	want, err := expectedDigest(c, entry, pin)
	if err != nil {
		return nil, err
	}
	digest, size, err := f.download(ctx, client, u, want)
	var de *cas.DigestError
	if pin != nil && errors.As(err, &de) {
		return nil, drift(c, pin, de.Actual)
	}
	if err != nil {
		return nil, err
	}
	return &Fetched{Chart: c, Name: c.Name, Version: entry.Version, Digest: digest, Size: size, Source: u}, nil
}

// cached returns a pinned chart that is already in the cache.
func (f *Fetcher) cached(c manifest.Chart, pin *lock.Chart, source string) (*Fetched, bool) {
	if pin == nil {
		return nil, false
	}
	size, ok := f.cache.Has(pin.Digest)
	if !ok {
		return nil, false
	}
	return &Fetched{Chart: c, Version: pin.Version, Digest: pin.Digest, Size: size, Source: source}, true
}

func drift(c manifest.Chart, pin *lock.Chart, upstream string) error {
	return &lock.DriftError{Drifts: []lock.Drift{{Kind: lock.KindChart, Name: c.LockKey(), Locked: pin.Digest, Upstream: upstream}}}
}

func pickEntry(c manifest.Chart, entries []indexEntry, pin *lock.Chart) (indexEntry, error) {
	want := ""
	if pin != nil {
		want = pin.Version
	} else {
		versions := make([]string, len(entries))
		for i, e := range entries {
			versions[i] = e.Version
		}
		v, err := resolveVersion(c.Version, versions)
		if err != nil {
			return indexEntry{}, fmt.Errorf("repository %s, chart %s: %w", c.Repo, c.Name, err)
		}
		want = v
	}
	for _, e := range entries {
		if e.Version == want {
			return e, nil
		}
	}
	if pin != nil {
		return indexEntry{}, drift(c, pin, "")
	}
	return indexEntry{}, fmt.Errorf("repository %s, chart %s: no version %s", c.Repo, c.Name, want)
}

// expectedDigest is the digest the archive must have: the lock's, and the
// index's when it publishes one; the two must agree.
func expectedDigest(c manifest.Chart, e indexEntry, pin *lock.Chart) (string, error) {
	fromIndex := ""
	if e.Digest != "" {
		fromIndex = "sha256:" + strings.ToLower(e.Digest)
	}
	if pin == nil {
		return fromIndex, nil
	}
	if fromIndex != "" && fromIndex != pin.Digest {
		return "", drift(c, pin, fromIndex)
	}
	return pin.Digest, nil
}

// chartURL resolves a chart URL of the index against the repository URL,
// as Helm does: relative URLs are relative to the repository's directory.
func chartURL(repo, ref string) (string, error) {
	base, err := url.Parse(strings.TrimSuffix(repo, "/") + "/")
	if err != nil {
		return "", fmt.Errorf("repository URL %s: %w", repo, err)
	}
	u, err := base.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("chart URL %s: %w", ref, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("chart URL %s: only http and https are supported", u)
	}
	return u.String(), nil
}

func (f *Fetcher) readIndex(ctx context.Context, client *http.Client, repo string) (*indexFile, error) {
	u := strings.TrimSuffix(repo, "/") + "/index.yaml"
	var idx *indexFile
	err := fetch.Default.Do(ctx, func() error {
		body, err := fetch.Get(ctx, client, u)
		if err != nil {
			return err
		}
		defer body.Close()
		data, err := io.ReadAll(io.LimitReader(body, maxIndexSize+1))
		if err != nil {
			return err
		}
		if len(data) > maxIndexSize {
			return fetch.Permanent(fmt.Errorf("%s is larger than %d bytes", u, maxIndexSize))
		}
		idx = new(indexFile)
		if err := yaml.Unmarshal(data, idx); err != nil {
			return fetch.Permanent(fmt.Errorf("%s: %w", u, err))
		}
		return nil
	})
	return idx, err
}

// download stores the archive at u in the cache. With want set, the bytes
// go straight into the cache and must hash to it; without, they are hashed
// into a temporary file first. At most maxChartSize bytes are accepted.
func (f *Fetcher) download(ctx context.Context, client *http.Client, u, want string) (digest string, size int64, err error) {
	err = fetch.Default.Do(ctx, func() error {
		body, err := fetch.Get(ctx, client, u)
		if err != nil {
			return err
		}
		defer body.Close()
		r := &limitedReader{r: body, left: maxChartSize, what: u}
		if want != "" {
			if err := f.cache.Put("chart "+u, want, -1, r); err != nil {
				return err
			}
			digest = want
			size, _ = f.cache.Has(want)
			return nil
		}
		digest, size, err = f.putUnknown("chart "+u, r)
		return err
	})
	return digest, size, err
}

// putUnknown stores r, whose digest is not known in advance, in the cache.
func (f *Fetcher) putUnknown(what string, r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp("", "chart-*.tgz")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", 0, err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	return digest, n, f.cache.Put(what, digest, n, tmp)
}

// limitedReader fails, rather than truncating, past its limit.
type limitedReader struct {
	r    io.Reader
	left int64
	what string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fetch.Permanent(fmt.Errorf("%s is larger than %d bytes", l.what, maxChartSize))
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fetch.Permanent(fmt.Errorf("%s is larger than %d bytes", l.what, maxChartSize))
	}
	return n, err
}
