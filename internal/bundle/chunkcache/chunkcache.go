// Package chunkcache owns the bounded cache of verified chunks that a
// bundle Reader shares between its reads (bundle.WithChunkCache): one load
// per chunk in flight, chunk buffers pooled and counted so a buffer is
// reused only when no reader holds it, and an eviction policy that keeps
// chunks asked for again. It knows nothing of bundles: a chunk is named by
// a comparable key, and loaded, read and verified, by the caller's load
// func.
package chunkcache

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
)

// Cache is a bounded cache of verified chunks with one load per chunk
// in flight. Chunk buffers are counted references: a reader holds the chunk
// it is reading from until it moves on or closes, and a buffer goes back to
// the pool for the next load only when it is out of the cache and no reader
// holds it, so steady serving allocates (and zeroes) no new memory.
//
// Eviction is least recently used, except that a chunk asked for again
// (a hit, or a load of a chunk loaded before) is kept before chunks seen
// once, as long as it is asked for at least once every hotHorizon loads:
// a layer many images share comes back after the other images' layers, a
// distance far larger than the cache, and plain LRU would have dropped it
// every time. When everything in the cache is such a chunk, a new chunk is
// served and not kept.
type Cache[K comparable] struct {
	max     int64
	bufSize int64
	bufs    sync.Pool // of *[]byte, bufSize

	mu      sync.Mutex
	used    int64
	lru     list.List // of *Chunk, most recent first
	byKey   map[K]*list.Element
	loading map[K]*chunkLoad[K]
	seen    map[K]struct{} // chunks loaded before; at most maxSeen
	clock   int64          // bytes loaded so far

	hits, misses int64 // for tests and diagnostics
}

// maxSeen bounds the keys Cache remembers (about 16 bytes each); the
// set starts over when full.
const maxSeen = 1 << 16

// hotHorizon is, in multiples of the cache's size, how many bytes may be
// loaded after a chunk asked for again was last used before it is evicted
// like any other.
const hotHorizon = 16

// evictScan bounds how many chunks, from the least recently used end, an
// eviction looks at for one that is not kept.
const evictScan = 64

// Chunk is one verified chunk: data points into buf.
type Chunk[K comparable] struct {
	key     K
	buf     *[]byte
	data    []byte
	refs    int   // readers holding it; guarded by the cache's mu
	evicted bool  // out of the cache: the last release recycles buf
	pooled  bool  // buf comes from (and goes back to) the pool
	again   bool  // asked for more than once; guarded by the cache's mu
	used    int64 // the cache's clock when last asked for; guarded by mu
}

// Data returns the chunk's verified bytes. They are valid, and must not be
// written to, until the chunk is released.
func (cc *Chunk[K]) Data() []byte { return cc.data }

type chunkLoad[K comparable] struct {
	done    chan struct{}
	waiters int
	cc      *Chunk[K]
	err     error
}

// New returns a cache of at most max bytes whose pooled buffers are
// bufSize bytes: enough for any chunk's load.
func New[K comparable](max, bufSize int64) *Cache[K] {
	c := &Cache[K]{max: max, bufSize: bufSize, byKey: map[K]*list.Element{}, loading: map[K]*chunkLoad[K]{},
		seen: map[K]struct{}{}}
	c.bufs.New = func() any { b := make([]byte, bufSize); return &b }
	return c
}

// Get returns the verified chunk for key, held for the caller until it
// calls Release. When no other read has the chunk or is loading it, Get
// calls load with a buffer to read into, of at least size bytes (load may
// grow it); load returns the verified data (a part of that buffer) and
// must not keep the buffer. A failed load is not cached: the next read
// tries again.
func (c *Cache[K]) Get(key K, size int64, load func(buf *[]byte) ([]byte, error)) (*Chunk[K], error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(e)
		c.hits++
		cc := e.Value.(*Chunk[K])
		cc.refs++
		cc.again, cc.used = true, c.clock
		c.mu.Unlock()
		return cc, nil
	}
	if l, ok := c.loading[key]; ok {
		c.hits++
		l.waiters++ // the loader takes a reference for us
		c.mu.Unlock()
		<-l.done
		return l.cc, l.err
	}
	c.misses++
	l := &chunkLoad[K]{done: make(chan struct{})}
	c.loading[key] = l
	c.mu.Unlock()

	// Full-size chunks use pooled buffers; small ones (manifests,
	// configs, the last piece of a blob) get a buffer of their own size,
	// so they do not take a whole chunk's room in the cache.
	pooled := size > c.bufSize/4
	var buf *[]byte
	if pooled {
		buf = c.bufs.Get().(*[]byte)
	} else {
		b := make([]byte, size)
		buf = &b
	}
	data, err := load(buf)
	pooled = pooled && int64(cap(*buf)) == c.bufSize

	c.mu.Lock()
	delete(c.loading, key)
	if err != nil {
		l.err = err
		if pooled {
			c.bufs.Put(buf)
		}
	} else {
		cc := &Chunk[K]{key: key, buf: buf, data: data, refs: 1 + l.waiters, pooled: pooled}
		l.cc = cc
		size := int64(cap(*buf))
		cc.again, cc.used = c.loadedBefore(key, size)
		cc.again = cc.again || l.waiters > 0 // asked for by several at once
		if size <= c.max {
			c.byKey[key] = c.lru.PushFront(cc)
			c.used += size
			c.evictLocked()
		} else {
			cc.evicted = true
		}
	}
	c.mu.Unlock()
	close(l.done)
	return l.cc, l.err
}

// loadedBefore records a load of size bytes of key and tells whether key
// was loaded before, with the clock after the load.
func (c *Cache[K]) loadedBefore(key K, size int64) (bool, int64) {
	_, again := c.seen[key]
	if !again {
		if len(c.seen) >= maxSeen {
			clear(c.seen)
		}
		c.seen[key] = struct{}{}
	}
	c.clock += size
	return again, c.clock
}

// evictLocked drops chunks until the cache fits: the least recently used
// one that is not kept (see Cache), else the most recent, which is
// then served without being kept.
func (c *Cache[K]) evictLocked() {
	for c.used > c.max {
		c.evictElement(c.victim())
	}
}

// victim is the least recently used chunk that was asked for once, or
// not for hotHorizon cache sizes of loads, among the evictScan least
// recent; failing that, the most recent one (just loaded).
func (c *Cache[K]) victim() *list.Element {
	e := c.lru.Back()
	for i := 0; e != nil && i < evictScan; i, e = i+1, e.Prev() {
		cc := e.Value.(*Chunk[K])
		if !cc.again || c.clock-cc.used > hotHorizon*c.max {
			return e
		}
	}
	return c.lru.Front()
}

func (c *Cache[K]) evictElement(e *list.Element) {
	old := c.lru.Remove(e).(*Chunk[K])
	delete(c.byKey, old.key)
	c.used -= int64(cap(*old.buf))
	old.evicted = true
	if old.refs == 0 {
		c.recycle(old)
	}
}

// Release gives back a reference Get returned.
func (c *Cache[K]) Release(cc *Chunk[K]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc.refs--
	if cc.refs == 0 && cc.evicted {
		c.recycle(cc)
	}
}

// recycle returns a chunk's buffer to the pool once nothing refers to it.
func (c *Cache[K]) recycle(cc *Chunk[K]) {
	if cc.pooled {
		c.bufs.Put(cc.buf)
	}
	cc.buf, cc.data = nil, nil
}

// Stats returns the hits (including reads that waited for another's load)
// and misses so far.
func (c *Cache[K]) Stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// Check reports a broken invariant, for tests and diagnostics: more bytes
// in the cache than its size, the recency list and the key map out of
// step, or a chunk in the cache that was recycled or marked evicted.
func (c *Cache[K]) Check() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.used > c.max || c.lru.Len() != len(c.byKey) {
		errs = append(errs, fmt.Errorf("%d bytes in %d chunks (%d keys), limit %d", c.used, c.lru.Len(), len(c.byKey), c.max))
	}
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if cc := e.Value.(*Chunk[K]); cc.buf == nil || cc.evicted {
			errs = append(errs, fmt.Errorf("chunk %v in the cache is recycled or marked evicted", cc.key))
		}
	}
	return errors.Join(errs...)
}
