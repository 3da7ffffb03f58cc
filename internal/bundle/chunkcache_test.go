package bundle

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
)

// sharedBlob returns the standard bundle's 3-chunk blob and its content.
func sharedBlob(t *testing.T, r *Reader) (Artifact, []byte) {
	t.Helper()
	entries, _ := standardEntries()
	for _, e := range entries {
		if NumChunks(int64(len(e.data))) == 3 {
			a, _ := r.Lookup(e.path)
			return a, e.data
		}
	}
	t.Fatal("no entry of 3 chunks in the standard bundle")
	return Artifact{}, nil
}

func readAll(r *Reader, a Artifact) ([]byte, error) {
	rc, err := r.Open(a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestChunkCacheLoadsOnce: 16 concurrent reads of a 3-chunk blob, then one
// more, read and verify each chunk once, and all get the right bytes.
func TestChunkCacheLoadsOnce(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, nil)
	ra := &countingReaderAt{ra: bytes.NewReader(file)}
	r, err := NewReader(ra, int64(len(file)), WithChunkCache(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, want := sharedBlob(t, r)
	before := ra.n.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			got, err := readAll(r, a)
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("wrong bytes")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readAll(r, a); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read after the burst: %v", err)
	}
	hits, misses := r.cache.Stats()
	if misses != 3 || hits != 17*3-3 {
		t.Errorf("hits %d, misses %d; want 48 and 3 (each chunk loaded once)", hits, misses)
	}
	if read := ra.n.Load() - before; read > int64(len(want))+int64(len(want))/8 {
		t.Errorf("17 reads of %d bytes read %d bytes of the file; want about one read", len(want), read)
	}
}

// mutableReaderAt is a file whose bytes a test can damage and repair.
type mutableReaderAt struct {
	mu sync.Mutex
	b  []byte
}

func (m *mutableReaderAt) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func (m *mutableReaderAt) flip(off int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b[off] ^= 0x40
}

// TestChunkCacheNeverKeepsBadChunks: a chunk that fails its digest is not
// cached (the next read tries again), and a verified chunk stays what was
// verified when the file is damaged later.
func TestChunkCacheNeverKeepsBadChunks(t *testing.T) {
	entries, images := standardEntries()
	file := &mutableReaderAt{b: writeBundle(t, entries, images, nil)}
	r, err := NewReader(file, int64(len(file.b)), WithChunkCache(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, want := sharedBlob(t, r)
	// A byte in the middle of chunk 1's frame: a raw frame, so the flip
	// lands in the data and the zstd checksum and the digest both catch it.
	fi, _ := r.sr.FrameAt(a.Offset + ChunkSize + ChunkSize/2)
	f := r.sr.Frame(fi)
	at := f.Offset + f.CompressedSize/2
	file.flip(at)
	if _, err := readAll(r, a); err == nil {
		t.Fatal("a damaged chunk was served")
	}
	file.flip(at)
	got, err := readAll(r, a)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("after the repair: %v (a failed load must not be cached)", err)
	}
	file.flip(at)
	got, err = readAll(r, a)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("damage after caching: %v; the verified chunk should still be served", err)
	}
}

// TestChunkCacheBounded: the cache holds at most its size.
func TestChunkCacheBounded(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, nil)
	r := openBytes(t, file, WithChunkCache(2*ChunkSize+128<<10))
	for _, e := range entries {
		a, _ := r.Lookup(e.path)
		if got, err := readAll(r, a); err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%s: %v", e.path, err)
		}
		if err := r.cache.Check(); err != nil {
			t.Fatalf("after %s: %v", e.path, err)
		}
	}
	if _, err := NewReader(bytes.NewReader(file), int64(len(file)), WithChunkCache(-1)); err == nil {
		t.Error("a negative cache size was accepted")
	}
}

// TestWriteTo: the WriterTo path gives what Read gives, for every entry
// and for ranges, and stops before a damaged chunk's first byte.
func TestWriteTo(t *testing.T) {
	entries, images := standardEntries()
	file := &mutableReaderAt{b: writeBundle(t, entries, images, nil)}
	for _, cache := range []int64{0, 64 << 20} {
		r, err := NewReader(file, int64(len(file.b)), WithChunkCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			a, _ := r.Lookup(e.path)
			for _, rg := range [][2]int64{{0, a.Size}, {a.Size / 3, a.Size - a.Size/3}, {a.Size / 2, a.Size / 4}} {
				rc, err := r.OpenRange(a, rg[0], rg[1])
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				n, err := rc.(io.WriterTo).WriteTo(&got)
				rc.Close()
				if err != nil || n != rg[1] || !bytes.Equal(got.Bytes(), e.data[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("cache %d, %s [%d,+%d): n %d, err %v", cache, e.path, rg[0], rg[1], n, err)
				}
			}
		}
		r.Close()
	}
	r, err := NewReader(file, int64(len(file.b)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, want := sharedBlob(t, r)
	fi, _ := r.sr.FrameAt(a.Offset + 2*ChunkSize + 100)
	f := r.sr.Frame(fi)
	file.flip(f.Offset + f.CompressedSize/2)
	rc, _ := r.Open(a)
	defer rc.Close()
	var got bytes.Buffer
	n, err := rc.(io.WriterTo).WriteTo(&got)
	if err == nil || n != 2*ChunkSize || !bytes.Equal(got.Bytes(), want[:2*ChunkSize]) {
		t.Fatalf("damaged chunk 2: wrote %d bytes, err %v; want the 2 good chunks and an error", n, err)
	}
}

// TestChunkCacheHeldChunkSurvivesEviction: a chunk a reader is still
// reading from is never recycled for another load, even once evicted.
func TestChunkCacheHeldChunkSurvivesEviction(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, nil)
	r := openBytes(t, file, WithChunkCache(chunkBufSize)) // room for one chunk
	a, want := sharedBlob(t, r)
	rc, err := r.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 100)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	// Other reads load every chunk of the blob again and again, evicting
	// the held chunk 0 and reusing whatever buffers are free.
	for range 3 {
		if got, err := readAll(r, a); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("other read: %v", err)
		}
	}
	rest, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(head, rest...), want) {
		t.Fatal("the held chunk changed under its reader")
	}
	if err := r.cache.Check(); err != nil {
		t.Error(err)
	}
}
