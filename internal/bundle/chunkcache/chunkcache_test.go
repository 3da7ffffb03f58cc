package chunkcache

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// The sizes of a bundle's chunks and of the buffers they are read into.
const (
	chunkSize = 4 << 20
	bufSize   = chunkSize + 64<<10
)

// key names a chunk as package bundle does: an entry and a chunk number.
type key struct{ entry, k int64 }

// fill returns a load that writes b's bytes into the buffer and counts
// its calls.
func fill(b []byte, calls *atomic.Int64) func(buf *[]byte) ([]byte, error) {
	return func(buf *[]byte) ([]byte, error) {
		calls.Add(1)
		return (*buf)[:copy((*buf)[:cap(*buf)], b)], nil
	}
}

// TestLoadsOnce: concurrent gets of one chunk load it once, and all see
// its bytes; a later get is a hit.
func TestLoadsOnce(t *testing.T) {
	c := New[key](4*bufSize, bufSize)
	want := bytes.Repeat([]byte("chunk"), chunkSize/5)
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			cc, err := c.Get(key{1, 0}, int64(len(want)), fill(want, &calls))
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(cc.Data(), want) {
				t.Error("wrong bytes")
			}
			c.Release(cc)
		})
	}
	wg.Wait()
	cc, err := c.Get(key{1, 0}, int64(len(want)), fill(want, &calls))
	if err != nil {
		t.Fatal(err)
	}
	c.Release(cc)
	if hits, misses := c.Stats(); calls.Load() != 1 || misses != 1 || hits != 16 {
		t.Errorf("%d loads, %d hits, %d misses; want 1, 16, 1", calls.Load(), hits, misses)
	}
	if err := c.Check(); err != nil {
		t.Error(err)
	}
}

// TestFailedLoadNotCached: a load that fails is not kept; the next get
// loads again.
func TestFailedLoadNotCached(t *testing.T) {
	c := New[key](4*bufSize, bufSize)
	bad := errors.New("digest mismatch")
	if _, err := c.Get(key{1, 0}, chunkSize, func(*[]byte) ([]byte, error) { return nil, bad }); !errors.Is(err, bad) {
		t.Fatalf("Get = %v, want the load's error", err)
	}
	var calls atomic.Int64
	cc, err := c.Get(key{1, 0}, chunkSize, fill([]byte("good"), &calls))
	if err != nil || calls.Load() != 1 || string(cc.Data()) != "good" {
		t.Fatalf("Get after a failed load: %v, %d loads", err, calls.Load())
	}
	c.Release(cc)
}

// TestHeldChunkSurvivesEviction: a chunk a reader still holds is never
// recycled for another load, even once evicted.
func TestHeldChunkSurvivesEviction(t *testing.T) {
	c := New[key](bufSize, bufSize) // room for one chunk
	var calls atomic.Int64
	want := bytes.Repeat([]byte{'a'}, chunkSize)
	held, err := c.Get(key{1, 0}, chunkSize, fill(want, &calls))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(8) {
		cc, err := c.Get(key{2, i}, chunkSize, fill(bytes.Repeat([]byte{'b'}, chunkSize), &calls))
		if err != nil {
			t.Fatal(err)
		}
		c.Release(cc)
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(held.Data(), want) {
		t.Fatal("the held chunk changed under its reader")
	}
	c.Release(held)
	if held.Data() != nil {
		t.Error("an evicted chunk kept its buffer after its last release")
	}
}

// TestChunkCacheKeepsChunksAskedForAgain: chunks of shared layers that
// come back after many chunks read once (as a base layer does when 8
// clients pull every image) stay in the cache; plain LRU would drop each
// before it comes back and never hit. The cache stays within its size.
func TestChunkCacheKeepsChunksAskedForAgain(t *testing.T) {
	c := New[key](4*bufSize, bufSize) // room for 4 chunks
	load := func(buf *[]byte) ([]byte, error) { return (*buf)[:chunkSize], nil }
	get := func(entry, k int64) {
		cc, err := c.Get(key{entry, k}, bufSize, load)
		if err != nil {
			t.Fatal(err)
		}
		c.Release(cc)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.used > c.max || c.lru.Len() != len(c.byKey) {
			t.Fatalf("%d bytes in %d chunks, limit %d", c.used, c.lru.Len(), c.max)
		}
	}
	const rounds = 5
	for round := range int64(rounds) {
		for layer := range int64(4) { // 4 shared layers of 3 chunks: 3 times the cache
			for k := range int64(3) {
				get(layer, k)
			}
			for u := range int64(8) { // then 8 chunks read once
				get(1000+round*100+layer*10+u, 0)
			}
		}
	}
	hits, misses := c.Stats()
	if hits < 4*(rounds-2) {
		t.Errorf("%d hits, %d misses: the shared chunks were not kept", hits, misses)
	}
	t.Logf("%d hits, %d misses", hits, misses)

	// Kept chunks no one asks for any more give way after hotHorizon
	// cache sizes of loads: a chunk read twice in a row is a hit again.
	for u := range int64(hotHorizon*4 + 1) {
		get(9000+u, 0)
	}
	get(8000, 0)
	before, _ := c.Stats()
	get(8000, 0)
	if after, _ := c.Stats(); after != before+1 {
		t.Error("the cache still keeps only chunks no one asked for in hotHorizon loads")
	}
}
