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

// chunkCache is a bounded LRU of verified chunks with one load per chunk in
// flight.
type chunkCache struct {
	max int64

	mu      sync.Mutex
	used    int64
	lru     list.List // of *cachedChunk, most recent first
	byKey   map[chunkKey]*list.Element
	loading map[chunkKey]*chunkLoad

	hits, misses int64 // for tests and diagnostics
}

type cachedChunk struct {
	key  chunkKey
	data []byte
}

type chunkLoad struct {
	done chan struct{}
	data []byte
	err  error
}

func newChunkCache(max int64) *chunkCache {
	return &chunkCache{max: max, byKey: map[chunkKey]*list.Element{}, loading: map[chunkKey]*chunkLoad{}}
}

// get returns the verified chunk for key, calling load (which must return
// verified bytes it will never change) when no other read has it or is
// loading it. A failed load is not cached: the next read tries again.
func (c *chunkCache) get(key chunkKey, load func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(e)
		c.hits++
		c.mu.Unlock()
		return e.Value.(*cachedChunk).data, nil
	}
	if l, ok := c.loading[key]; ok {
		c.hits++
		c.mu.Unlock()
		<-l.done
		return l.data, l.err
	}
	c.misses++
	l := &chunkLoad{done: make(chan struct{})}
	c.loading[key] = l
	c.mu.Unlock()

	l.data, l.err = load()

	c.mu.Lock()
	delete(c.loading, key)
	if l.err == nil && int64(cap(l.data)) <= c.max {
		c.byKey[key] = c.lru.PushFront(&cachedChunk{key: key, data: l.data})
		c.used += int64(cap(l.data))
		for c.used > c.max {
			last := c.lru.Back()
			old := c.lru.Remove(last).(*cachedChunk)
			delete(c.byKey, old.key)
			c.used -= int64(cap(old.data))
		}
	}
	c.mu.Unlock()
	close(l.done)
	return l.data, l.err
}

// stats returns the hits (including reads that waited for another's load)
// and misses so far.
func (c *chunkCache) stats() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
