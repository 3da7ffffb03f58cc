package siteserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// BundleContent is Content straight from a bundle file: nothing is
// extracted or copied. Every read goes through the bundle Reader, which
// decompresses only the frames of the entry asked for and checks each 4 MiB
// chunk against its digest in bundle.json before returning any of its bytes
// (and a whole read against the entry's digest), so whatever the server
// sends was vouched for by bundle.json. Whether bundle.json itself is
// trusted is decided when the Reader is opened (see internal/trust).
//
// Start-up costs one sort of the paths bundle.json lists; no entry is read.
//
// Memory is bounded: a read holds a verified chunk (up to 4 MiB) and its
// decompression buffer, so reads in flight share ReadBudget bytes, each
// weighing twice its chunk size; a read that does not fit waits for another
// to be closed (or for its context to end). So 64 clients pulling large
// layers at once use about ReadBudget, not 64 times 8 MiB.
//
// Safe for concurrent use, like the Reader.
type BundleContent struct {
	r      *bundle.Reader
	paths  []string // every listed path, sorted
	budget *semaphore.Weighted
}

// ReadBudget is the memory, in bytes, that BundleContent's reads in flight
// may hold together.
const ReadBudget = 64 << 20

// ChunkCacheSize is the verified-chunk cache a served bundle should be
// opened with (bundle.WithChunkCache): hosts pulling the same layers at the
// same time then share one read and one verification of each chunk. With
// ReadBudget it stays within MemoryLimit.
const ChunkCacheSize = 64 << 20

// NewBundleContent serves the entries r lists (with its base's, for a
// delta opened WithBase). The caller keeps closing r.
func NewBundleContent(r *bundle.Reader) *BundleContent {
	arts := r.Artifacts()
	paths := make([]string, 0, len(arts))
	for _, a := range arts {
		paths = append(paths, a.Path)
	}
	sort.Strings(paths)
	return &BundleContent{r: r, paths: paths, budget: semaphore.NewWeighted(ReadBudget)}
}

// Stat implements Content from bundle.json alone.
func (b *BundleContent) Stat(path string) (int64, string, bool) {
	a, ok := b.r.Lookup(path)
	if !ok {
		return 0, "", false
	}
	return a.Size, a.Digest, true
}

// Open implements Content with the Reader's OpenRange, whole entries
// included: every byte served has matched the digest of its chunk (for an
// entry of at most one chunk, the entry's digest), listed in the signed
// bundle.json.
func (b *BundleContent) Open(ctx context.Context, path string, off, n int64) (io.ReadCloser, error) {
	a, ok := b.r.Lookup(path)
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if n < 0 {
		n = a.Size - off
	}
	weight := readWeight(a.Size)
	if err := b.budget.Acquire(ctx, weight); err != nil {
		return nil, err
	}
	rc, err := b.r.OpenRange(a, off, n)
	if err != nil {
		b.budget.Release(weight)
		if errors.Is(err, bundle.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		return nil, err
	}
	return &budgetReader{ctx: ctx, rc: rc, release: func() { b.budget.Release(weight) }}, nil
}

// readWeight is what a read of an entry of size bytes holds: a chunk and
// the buffer it is decompressed into, plus a little.
func readWeight(size int64) int64 {
	return 2*min(size, bundle.ChunkSize) + 64<<10
}

// List implements Content.
func (b *BundleContent) List(prefix string) []string {
	i := sort.SearchStrings(b.paths, prefix)
	j := i
	for j < len(b.paths) && strings.HasPrefix(b.paths[j], prefix) {
		j++
	}
	return append([]string(nil), b.paths[i:j]...)
}

// budgetReader gives its share of the read budget back when closed, and
// stops reading once its context is done, so a request whose client went
// away stops decompressing.
type budgetReader struct {
	ctx     context.Context
	rc      io.ReadCloser
	release func()
	once    sync.Once
}

func (c *budgetReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.rc.Read(p)
}

// writeVerifiedTo writes the rest of the content to w, each piece only once
// it has been verified (bundle.Reader's readers verify a chunk before they
// hand out any of it), without copying it through a buffer first. It
// reports false when the underlying reader cannot.
func (c *budgetReader) writeVerifiedTo(w io.Writer) (n int64, ok bool, err error) {
	wt, ok := c.rc.(io.WriterTo)
	if !ok {
		return 0, false, nil
	}
	n, err = wt.WriteTo(ctxWriter{c.ctx, w})
	return n, true, err
}

// ctxWriter stops writing once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (c *budgetReader) Close() error {
	err := c.rc.Close()
	c.once.Do(c.release)
	return err
}
