package bundle

import "fmt"

// WithChunkCache keeps up to size bytes of verified chunks in memory,
// shared by every Open and OpenRange of the Reader (Verify and Extract do
// not use it). A chunk wanted by several reads at the same time is read and
// verified once; the others wait for it. Many hosts pulling the same image
// at once (a DaemonSet's image on every node) then cost one verification
// per chunk instead of one per host. The cached bytes are the bytes that
// matched their signed digest; they are never handed out before that, and
// never written to. size 0 turns the cache off (the default). The cache
// itself is package chunkcache's; its chunks are keyed by chunkKey.
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
