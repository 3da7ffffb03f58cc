package content

import "testing"

func TestChunkCacheIsSizedByTheMachine(t *testing.T) {
	for _, c := range []struct {
		mem, want int64
	}{
		{0, MinChunkCache},        // unknown
		{1 << 30, MinChunkCache},  // 1 GiB: 16 MiB, raised to the minimum
		{4 << 30, 64 << 20},       // 4 GiB: a 64th
		{6 << 30, 96 << 20},       // 6 GiB
		{24 << 30, MaxChunkCache}, // 24 GiB: 384 MiB, held at the maximum
		{1 << 40, MaxChunkCache},  // 1 TiB
	} {
		if got := chunkCacheFor(c.mem); got != c.want {
			t.Errorf("chunkCacheFor(%d MiB) = %d MiB, want %d MiB", c.mem>>20, got>>20, c.want>>20)
		}
	}
	if got := ChunkCacheSize(); got < MinChunkCache || got > MaxChunkCache {
		t.Errorf("ChunkCacheSize() = %d, outside [%d, %d]", got, MinChunkCache, MaxChunkCache)
	}
}
