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
// bounded by the pipeline, not by the data size. The pipeline holds at most
// 2×workers+3 frame buffers (workers+2 frames queued, an output buffer per
// compressing worker, the frame being filled), one encoder per worker and
// the writer's chunk buffer; the limit adds 20% for the collector's slack.
// With up to 2 workers, as on CI, that is under 64 MiB.
//
// GC runs often during the test (GOGC=20) so that the sampled heap is close
// to the live heap.
func TestWriteMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 600 MiB; skipped with -short and -race")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	const frameBuf, encoder = 4.3, 6.0 // MiB
	for _, workers := range []int{1, 2, 4} {
		peak := peakHeapWriting(t, 200<<20, workers)
		limit := ((float64(2*workers+3)*frameBuf+float64(workers)*encoder+4)*1.2 + 4)
		t.Logf("peak heap %d MiB writing 200 MiB with %d workers (limit %.0f MiB)", peak>>20, workers, limit)
		if float64(peak>>20) > limit || workers <= 2 && peak >= 64<<20 {
			t.Errorf("%d workers: peak heap %d MiB, want under %.0f MiB (and 64 MiB for 2 workers or fewer)", workers, peak>>20, limit)
		}
	}
}

// peakHeapWriting samples the heap while writing size random bytes.
// The heap left by earlier tests is measured first and subtracted.
func peakHeapWriting(t *testing.T, size int64, workers int) uint64 {
	runtime.GC()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
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
	if peak.Load() < base.HeapAlloc {
		return 0
	}
	return peak.Load() - base.HeapAlloc
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
