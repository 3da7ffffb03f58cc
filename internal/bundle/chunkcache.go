package bundle

import (
	"container/list"
	"fmt"
	"sync"
)

// WithChunkCache keeps up to size bytes of verified chunks in memory,
// shared by every Open and OpenRange of the Reader (Verify and Extract do
// not use it). A chunk wanted by several reads at the same time is read and
// verified once; the others wait for it. Many hosts pulling the same image
// at once (a DaemonSet's image on every node) then cost one verification
// per chunk instead of one per host. The cached bytes are the bytes that
// matched their signed digest; they are never handed out before that, and
// never written to. size 0 turns the cache off (the default).
func WithChunkCache(size int64) OpenOption {
	return func(o *openOptions) error {
		if size < 0 {
			return fmt.Errorf("bundle: negative chunk cache size %d", size)
		}
		o.chunkCache = size
		return nil
	}
}

// chunkKey names one chunk: its entry (by data offset, unique in a bundle)
// and its number.
type chunkKey struct{ entry, k int64 }

// chunkCache is a bounded cache of verified chunks with one load per chunk
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
type chunkCache struct {
	max  int64
	bufs sync.Pool // of *[]byte, chunkBufSize

	mu      sync.Mutex
	used    int64
	lru     list.List // of *cachedChunk, most recent first
	byKey   map[chunkKey]*list.Element
	loading map[chunkKey]*chunkLoad
	seen    map[chunkKey]struct{} // chunks loaded before; at most maxSeen
	clock   int64                 // bytes loaded so far

	hits, misses int64 // for tests and diagnostics
}

// maxSeen bounds the keys chunkCache remembers (about 16 bytes each); the
// set starts over when full.
const maxSeen = 1 << 16

// hotHorizon is, in multiples of the cache's size, how many bytes may be
// loaded after a chunk asked for again was last used before it is evicted
// like any other.
const hotHorizon = 16

// evictScan bounds how many chunks, from the least recently used end, an
// eviction looks at for one that is not kept.
const evictScan = 64

// cachedChunk is one verified chunk: data points into buf.
type cachedChunk struct {
	key     chunkKey
	buf     *[]byte
	data    []byte
	refs    int   // readers holding it; guarded by the cache's mu
	evicted bool  // out of the cache: the last release recycles buf
	pooled  bool  // buf comes from (and goes back to) the pool
	again   bool  // asked for more than once; guarded by the cache's mu
	used    int64 // the cache's clock when last asked for; guarded by mu
}

type chunkLoad struct {
	done    chan struct{}
	waiters int
	cc      *cachedChunk
	err     error
}

func newChunkCache(max int64) *chunkCache {
	c := &chunkCache{max: max, byKey: map[chunkKey]*list.Element{}, loading: map[chunkKey]*chunkLoad{},
		seen: map[chunkKey]struct{}{}}
	c.bufs.New = func() any { b := make([]byte, chunkBufSize); return &b }
	return c
}

// get returns the verified chunk for key, held for the caller until it
// calls release. When no other read has the chunk or is loading it, get
// calls load with a buffer to read into; load returns the verified data (a
// part of that buffer) and must not keep the buffer. A failed load is not
// cached: the next read tries again.
func (c *chunkCache) get(key chunkKey, size int64, load func(buf *[]byte) ([]byte, error)) (*cachedChunk, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(e)
		c.hits++
		cc := e.Value.(*cachedChunk)
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
	l := &chunkLoad{done: make(chan struct{})}
	c.loading[key] = l
	c.mu.Unlock()

	// Full-size chunks use pooled buffers; small ones (manifests,
	// configs, the last piece of a blob) get a buffer of their own size,
	// so they do not take a whole chunk's room in the cache.
	pooled := size > chunkBufSize/4
	var buf *[]byte
	if pooled {
		buf = c.bufs.Get().(*[]byte)
	} else {
		b := make([]byte, size)
		buf = &b
	}
	data, err := load(buf)
	pooled = pooled && cap(*buf) == chunkBufSize

	c.mu.Lock()
	delete(c.loading, key)
	if err != nil {
		l.err = err
		if pooled {
			c.bufs.Put(buf)
		}
	} else {
		cc := &cachedChunk{key: key, buf: buf, data: data, refs: 1 + l.waiters, pooled: pooled}
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
func (c *chunkCache) loadedBefore(key chunkKey, size int64) (bool, int64) {
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
// one that is not kept (see chunkCache), else the most recent, which is
// then served without being kept.
func (c *chunkCache) evictLocked() {
	for c.used > c.max {
		c.evictElement(c.victim())
	}
}

// victim is the least recently used chunk that was asked for once, or
// not for hotHorizon cache sizes of loads, among the evictScan least
// recent; failing that, the most recent one (just loaded).
func (c *chunkCache) victim() *list.Element {
	e := c.lru.Back()
	for i := 0; e != nil && i < evictScan; i, e = i+1, e.Prev() {
		cc := e.Value.(*cachedChunk)
		if !cc.again || c.clock-cc.used > hotHorizon*c.max {
			return e
		}
	}
	return c.lru.Front()
}

func (c *chunkCache) evictElement(e *list.Element) {
	old := c.lru.Remove(e).(*cachedChunk)
	delete(c.byKey, old.key)
	c.used -= int64(cap(*old.buf))
	old.evicted = true
	if old.refs == 0 {
		c.recycle(old)
	}
}

// release gives back a reference get returned.
func (c *chunkCache) release(cc *cachedChunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc.refs--
	if cc.refs == 0 && cc.evicted {
		c.recycle(cc)
	}
}

// recycle returns a chunk's buffer to the pool once nothing refers to it.
func (c *chunkCache) recycle(cc *cachedChunk) {
	if cc.pooled {
		c.bufs.Put(cc.buf)
	}
	cc.buf, cc.data = nil, nil
}

// stats returns the hits (including reads that waited for another's load)
// and misses so far.
func (c *chunkCache) stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
