package images

import (
	"io"
	"sync"
	"sync/atomic"
)

// ImageProgress is a snapshot of one image's pull.
type ImageProgress struct {
	Image        string // canonical name
	BytesDone    int64  // bytes of blobs in the cache so far (cached ones count)
	BytesTotal   int64  // bytes of all the image's blobs (0 until its manifest is read)
	BlobsFetched int    // blobs downloaded by this pull
	BlobsCached  int    // blobs already in the cache, or fetched by a concurrent pull
	BlobsSkipped int    // layers not fetched because WithSkipLayers said so
	// BlobsDeferred are layers left to the caller (WithDeferLayers); their
	// bytes count as done.
	BlobsDeferred int
	BlobsTotal    int
	Done          bool  // the last report for this image
	Err           error // set with Done when the pull failed
}

// Progress receives pull progress. Update is called from several
// goroutines at once and must be safe for concurrent use; it should return
// quickly.
type Progress interface {
	Update(ImageProgress)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(ImageProgress)

// Update calls f.
func (f ProgressFunc) Update(p ImageProgress) { f(p) }

// reportEvery is how many downloaded bytes pass between byte reports.
const reportEvery = 1 << 20

// tracker counts one image's progress and reports snapshots.
type tracker struct {
	sink                   Progress
	name                   string
	mu                     sync.Mutex // serializes reports, so they arrive in order
	done, total            atomic.Int64
	fetched, cached, blobs atomic.Int64
	skipped, deferred      atomic.Int64
}

func newTracker(sink Progress, name string) *tracker {
	return &tracker{sink: sink, name: name}
}

func (t *tracker) start(blobs []Blob) {
	var total int64
	for _, b := range blobs {
		total += b.Size
	}
	t.total.Store(total)
	t.blobs.Store(int64(len(blobs)))
	t.report(false, nil)
}

func (t *tracker) bytes(n int64)  { t.done.Add(n) }
func (t *tracker) fetchedBlob()   { t.fetched.Add(1); t.report(false, nil) }
func (t *tracker) finish(e error) { t.report(true, e) }

func (t *tracker) skippedBlob(size int64) {
	t.done.Add(size)
	t.skipped.Add(1)
	t.report(false, nil)
}

func (t *tracker) deferredBlob(size int64) {
	t.done.Add(size)
	t.deferred.Add(1)
	t.report(false, nil)
}

func (t *tracker) cachedBlob(size int64) {
	t.done.Add(size)
	t.cached.Add(1)
	t.report(false, nil)
}

func (t *tracker) report(done bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sink.Update(ImageProgress{
		Image: t.name, BytesDone: t.done.Load(), BytesTotal: t.total.Load(),
		BlobsFetched: int(t.fetched.Load()), BlobsCached: int(t.cached.Load()), BlobsSkipped: int(t.skipped.Load()), BlobsDeferred: int(t.deferred.Load()), BlobsTotal: int(t.blobs.Load()),
		Done: done, Err: err,
	})
}

// countingReader adds what passes through to a tracker, reporting every
// reportEvery bytes.
type countingReader struct {
	r       io.Reader
	t       *tracker
	n       int64
	pending int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.t.bytes(int64(n))
	c.pending += int64(n)
	if c.pending >= reportEvery {
		c.pending = 0
		c.t.report(false, nil)
	}
	return n, err
}
