package bundle

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// randomReader yields pseudo-random bytes without holding them.
type randomReader struct{ rng *rand.PCG }

func newRandomReader(seed uint64) *randomReader { return &randomReader{rand.NewPCG(seed, seed)} }

func (r *randomReader) Read(p []byte) (int, error) {
	n := len(p) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.rng.Uint64())
	}
	return n, nil
}

// writeRandom writes one entry of size random bytes and finishes the bundle.
func writeRandom(tb testing.TB, out io.Writer, size int64, opts ...Option) {
	w := NewWriter(out, opts...)
	e, err := w.Add("blobs/sha256/random", size, io.LimitReader(newRandomReader(1), size))
	if err != nil {
		tb.Fatal(err)
	}
	index, _ := (&Index{SchemaVersion: SchemaVersion, Artifacts: []Artifact{e.Artifact(KindBlob, "random")}}).Marshal()
	if err := w.Finish(index, nil); err != nil {
		tb.Fatal(err)
	}
}

// TestWriteMemoryBounded writes 200 MiB and samples the heap: it must stay
// bounded by the number of frames in flight (about 2×workers frames of
// ChunkSize, compressed and not), not by the data size.
//
// GC runs often during the test (GOGC=20) so that the sampled heap is close
// to the live heap rather than to the collector's slack.
func TestWriteMemoryBounded(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	for _, workers := range []int{1, 2, 4} {
		peak := peakHeapWriting(t, 200<<20, workers)
		t.Logf("peak heap %d MiB writing 200 MiB with %d workers", peak>>20, workers)
		if limit := uint64(28+10*workers) << 20; peak > limit {
			t.Errorf("%d workers: peak heap %d MiB, want under %d MiB", workers, peak>>20, limit>>20)
		}
	}
}

// peakHeapWriting samples the heap while writing size random bytes.
func peakHeapWriting(t *testing.T, size int64, workers int) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	writeRandom(t, io.Discard, size, WithWorkers(workers))
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkWrite writes 256 MiB of random (incompressible) data as one
// entry and reports the throughput.
// Run: go test -run=^$ -bench=Write -benchtime=3x ./internal/bundle
func BenchmarkWrite(b *testing.B) {
	const size = 256 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		writeRandom(b, io.Discard, size)
	}
}
