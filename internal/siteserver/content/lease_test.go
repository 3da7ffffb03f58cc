package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// leaseBlob is the path of the test bundle's layer: three chunks of
// random bytes, which the writer stores in raw frames.
const leaseBlob = "blobs/sha256/layer"

// writeLeaseBundle writes a bundle holding a layer of 2.5 chunks and a
// small file, and returns its path and the layer's bytes.
func writeLeaseBundle(t *testing.T) (string, []byte) {
	t.Helper()
	layer := make([]byte, 2*bundle.ChunkSize+bundle.ChunkSize/2)
	rng := rand.NewChaCha8([32]byte{7})
	rng.Read(layer)
	path := filepath.Join(t.TempDir(), "lease.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bundle.NewWriter(f)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "lease-test", Version: "1.0", Platform: "linux/amd64"}
	for _, e := range []struct {
		path string
		data []byte
	}{{leaseBlob, layer}, {"files/small", []byte("small")}} {
		en, err := w.Add(e.path, int64(len(e.data)), bytes.NewReader(e.data))
		if err != nil {
			t.Fatal(err)
		}
		x.Artifacts = append(x.Artifacts, en.Artifact(bundle.KindFile, e.path))
	}
	index, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(index, nil); err != nil {
		t.Fatal(err)
	}
	return path, layer
}

// openLeaseBundle opens the bundle at path for the test's duration.
func openLeaseBundle(t *testing.T, path string) *Bundle {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBundle(r)
	t.Cleanup(func() { b.Close(); r.Close() })
	return b
}

// fetch writes [off, off+n) of the layer as the site server does.
func fetch(t *testing.T, b *Bundle, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := b.Open(context.Background(), leaseBlob, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	_, ok, err := rc.(VerifiedWriterTo).WriteVerifiedTo(&out)
	if !ok {
		t.Fatal("WriteVerifiedTo did not take the write")
	}
	return out.Bytes(), err
}

// payloadOffset is where byte off of the layer lies in the bundle file.
func payloadOffset(t *testing.T, b *Bundle, off int64) int64 {
	t.Helper()
	a, _ := b.r.Lookup(leaseBlob)
	k := off / bundle.ChunkSize
	rc, ok := b.r.LocateRawChunk(a, k)
	if !ok {
		t.Fatalf("chunk %d of the layer is not in a raw frame", k)
	}
	pos := k * bundle.ChunkSize
	for _, e := range rc.Extents {
		if off < pos+e.Len {
			return e.Off + off - pos
		}
		pos += e.Len
	}
	t.Fatalf("offset %d is past chunk %d", off, k)
	return 0
}

// flip flips the byte at off of the file at path.
func flip(t *testing.T, f *os.File, off int64) {
	t.Helper()
	var c [1]byte
	if _, err := f.ReadAt(c[:], off); err != nil {
		t.Fatal(err)
	}
	c[0] ^= 0xff
	if _, err := f.WriteAt(c[:], off); err != nil {
		t.Fatal(err)
	}
}

func (b *Bundle) leaseOf(t *testing.T) *fileLease {
	t.Helper()
	b.leaseMu.Lock()
	defer b.leaseMu.Unlock()
	if len(b.leases) != 1 {
		t.Fatalf("%d leased files, want 1", len(b.leases))
	}
	for _, l := range b.leases {
		return l
	}
	return nil
}

func TestLeasedChunksAreVerifiedOnceThenSentFromTheFile(t *testing.T) {
	path, layer := writeLeaseBundle(t)
	b := openLeaseBundle(t, path)
	for pass := range 3 {
		got, err := fetch(t, b, 0, -1)
		if err != nil || !bytes.Equal(got, layer) {
			t.Fatalf("pass %d: %d bytes, %v; want the layer's %d", pass, len(got), err, len(layer))
		}
	}
	if l := b.leaseOf(t); l.err != nil {
		t.Fatalf("no lease: %v", l.err)
	}
	if v, s := b.leasedVerified.Load(), b.leasedSent.Load(); v != 3 || s != 9 {
		t.Errorf("%d chunks verified and %d sent from the mapping, want 3 and 9", v, s)
	}
	// A range across a chunk boundary, from the mapping.
	off, n := int64(bundle.ChunkSize-100), int64(300)
	got, err := fetch(t, b, off, n)
	if err != nil || !bytes.Equal(got, layer[off:off+n]) {
		t.Fatalf("range: %d bytes, %v", len(got), err)
	}
}

func TestChunkCorruptBeforeItWasVerifiedIsNeverSent(t *testing.T) {
	path, layer := writeLeaseBundle(t)
	b := openLeaseBundle(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	flip(t, f, payloadOffset(t, b, bundle.ChunkSize+5))
	f.Close()
	for pass := range 2 {
		got, err := fetch(t, b, 0, -1)
		if !errors.Is(err, bundle.ErrDigest) {
			t.Fatalf("pass %d: err %v, want a digest mismatch", pass, err)
		}
		if !bytes.Equal(got, layer[:bundle.ChunkSize]) {
			t.Fatalf("pass %d: sent %d bytes, want chunk 0 only", pass, len(got))
		}
	}
	if b.leasedSent.Load() == 0 {
		t.Fatal("the lease was not used")
	}
}

func TestWriterBreaksTheLeaseAndChunksAreVerifiedAgain(t *testing.T) {
	path, layer := writeLeaseBundle(t)
	b := openLeaseBundle(t, path)
	if got, err := fetch(t, b, 0, -1); err != nil || !bytes.Equal(got, layer) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	start := time.Now()
	f, err := os.OpenFile(path, os.O_RDWR, 0) // waits for the lease to go
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("opening for writing waited %v for the lease", d)
	}
	flip(t, f, payloadOffset(t, b, 2*bundle.ChunkSize+7))
	f.Close()
	check := func(when string) {
		got, err := fetch(t, b, 0, -1)
		if !errors.Is(err, bundle.ErrDigest) || !bytes.Equal(got, layer[:2*bundle.ChunkSize]) {
			t.Fatalf("%s: sent %d bytes, err %v; want the first two chunks and a digest mismatch", when, len(got), err)
		}
	}
	check("right after the write (no lease)")
	sent := b.leasedSent.Load()
	time.Sleep(leaseRetry + 100*time.Millisecond)
	check("with the lease taken again")
	if b.leasedSent.Load() == sent {
		t.Error("the lease was not taken again")
	}
}

func TestNoLeaseWhileTheFileIsOpenForWriting(t *testing.T) {
	path, layer := writeLeaseBundle(t)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := openLeaseBundle(t, path)
	if got, err := fetch(t, b, 0, -1); err != nil || !bytes.Equal(got, layer) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if l := b.leaseOf(t); l.err == nil || !errors.Is(l.err, syscall.EAGAIN) {
		t.Errorf("lease error %v, want EAGAIN", l.err)
	}
	if n := b.leasedSent.Load(); n != 0 {
		t.Errorf("%d chunks sent from a mapping without a lease", n)
	}
}

// TestBreakCutsWritesThatDoNotEnd: a write from the mapping that is still
// blocked when the lease must go is cut off (EFAULT) before the writer
// gets the file, so it never sends what the writer changes.
func TestBreakCutsWritesThatDoNotEnd(t *testing.T) {
	path, layer := writeLeaseBundle(t)
	b := openLeaseBundle(t, path)
	if got, err := fetch(t, b, 0, -1); err != nil || !bytes.Equal(got, layer) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	b.leaseOf(t).drainWait = 200 * time.Millisecond
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10)
	w, r := os.NewFile(uintptr(fds[0]), "w"), os.NewFile(uintptr(fds[1]), "r")
	defer r.Close()
	done := make(chan error, 1)
	go func() {
		rc, _ := b.Open(context.Background(), leaseBlob, 0, -1)
		_, _, err := rc.(VerifiedWriterTo).WriteVerifiedTo(w)
		rc.Close()
		w.Close()
		done <- err
	}()
	// Wait until the write is blocked on the full socket.
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the write did not block: %v", err)
	default:
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The lease is gone: change the end of the blocked write (one raw
	// block) and of every chunk.
	for _, off := range []int64{128<<10 - 1, bundle.ChunkSize - 1, 2*bundle.ChunkSize - 1, int64(len(layer)) - 1} {
		flip(t, f, payloadOffset(t, b, off))
	}
	f.Close()
	got, _ := io.ReadAll(r)
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "bad address") {
		t.Errorf("the blocked write ended with %v, want EFAULT", err)
	}
	if len(got) >= len(layer) || !bytes.Equal(got, layer[:len(got)]) {
		t.Fatalf("the reader got %d bytes, not a prefix of the layer", len(got))
	}
	t.Logf("the reader got %d bytes before the cut", len(got))
}
