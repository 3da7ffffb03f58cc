package seekable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	ra io.ReaderAt
	n  atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// testFrames returns frames mixing random (incompressible) and repetitive
// (compressible) data of varied sizes.
func testFrames(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	sizes := []int{1, 100, 4096, 300 << 10, 1 << 20, 17, 2 << 20}
	var frames [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		if i%2 == 0 {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		} else {
			for j := range b {
				b[j] = "the quick brown fox "[j%20]
			}
		}
		frames = append(frames, b)
	}
	return frames
}

func writeFrames(t testing.TB, frames [][]byte, opts ...WriterOption) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WriteFrame(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Written() != int64(out.Len()) {
		t.Fatalf("Written() = %d, wrote %d", w.Written(), out.Len())
	}
	return out.Bytes()
}

func TestRoundTripRandomAccess(t *testing.T) {
	frames := testFrames(1)
	file := writeFrames(t, frames, WithWorkers(3))
	cra := &countingReaderAt{ra: bytes.NewReader(file)}
	r, err := NewReader(cra, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	whole := bytes.Join(frames, nil)
	if r.Size() != int64(len(whole)) || r.NumFrames() != len(frames) {
		t.Fatalf("Size %d frames %d, want %d and %d", r.Size(), r.NumFrames(), len(whole), len(frames))
	}
	// Read each frame alone: only that frame's compressed bytes are read.
	for i := range frames {
		f := r.Frame(i)
		cra.n.Store(0)
		got := make([]byte, f.UncompressedSize)
		if _, err := r.ReadAt(got, f.UncompressedOffset); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, frames[i]) {
			t.Fatalf("frame %d: content differs", i)
		}
		if n := cra.n.Load(); n != f.CompressedSize {
			t.Errorf("frame %d: read %d compressed bytes, the frame has %d", i, n, f.CompressedSize)
		}
	}
	// Reads straddling frames, through ReadAt and Stream.
	rng := rand.New(rand.NewPCG(2, 2))
	for range 50 {
		off := rng.Int64N(int64(len(whole)))
		n := rng.Int64N(int64(len(whole)) - off + 1)
		got := make([]byte, n)
		if _, err := r.ReadAt(got, off); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", off, n, err)
		}
		if !bytes.Equal(got, whole[off:off+n]) {
			t.Fatalf("ReadAt(%d, %d): content differs", off, n)
		}
		s, err := r.NewStream(off, n)
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(s)
		s.Close()
		if err != nil || !bytes.Equal(got, whole[off:off+n]) {
			t.Fatalf("Stream(%d, %d): %v, equal %v", off, n, err, bytes.Equal(got, whole[off:off+n]))
		}
	}
	if _, err := r.ReadAt(make([]byte, 10), int64(len(whole))-5); !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end: %v, want io.EOF", err)
	}
}

func TestReproducibleAcrossWorkers(t *testing.T) {
	frames := testFrames(3)
	one := writeFrames(t, frames, WithWorkers(1))
	for _, n := range []int{2, 4, 8} {
		if got := writeFrames(t, frames, WithWorkers(n)); !bytes.Equal(got, one) {
			t.Errorf("%d workers give different bytes than 1 worker", n)
		}
	}
}

func TestSkippableFrame(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter(&out)
	w.WriteFrame([]byte("hello "))
	if err := w.WriteSkippable(0x184D2A53, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	w.WriteFrame([]byte("world"))
	if err := w.WriteSkippable(SeekTableMagic, nil); err == nil {
		t.Error("WriteSkippable accepted the seek table's magic")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumFrames() != 3 || r.Frame(1).UncompressedSize != 0 {
		t.Fatalf("frames: %+v", r.Frame(1))
	}
	raw, err := r.ReadRawFrame(1)
	if err != nil || !bytes.Equal(raw[8:], []byte("payload")) || binary.LittleEndian.Uint32(raw) != 0x184D2A53 {
		t.Fatalf("raw skippable frame %q, %v", raw, err)
	}
	got := make([]byte, 11)
	if _, err := r.ReadAt(got, 0); err != nil || string(got) != "hello world" {
		t.Fatalf("ReadAt = %q, %v", got, err)
	}
}

// TestStandardZstd checks that the real zstd tool accepts the file and
// decompresses it to the frames, skipping the skippable frames.
func TestStandardZstd(t *testing.T) {
	zstdPath, err := exec.LookPath("zstd")
	if err != nil {
		t.Fatal("the zstd program is missing: install the Debian package zstd")
	}
	frames := testFrames(4)
	var out bytes.Buffer
	w, _ := NewWriter(&out)
	for i, f := range frames {
		w.WriteFrame(f)
		if i == 2 {
			w.WriteSkippable(0x184D2A50, []byte("ignored by zstd"))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.zst")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(zstdPath, "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, msg)
	}
	got, err := exec.Command(zstdPath, "-dc", path).Output()
	if err != nil {
		t.Fatalf("zstd -dc: %v", err)
	}
	if !bytes.Equal(got, bytes.Join(frames, nil)) {
		t.Fatal("zstd -dc output differs from the frames written")
	}
}

func TestWriterRefusesOversizedFrame(t *testing.T) {
	w, _ := NewWriter(io.Discard, WithMaxFrameSize(1000))
	if _, err := w.Write(make([]byte, 1001)); err == nil {
		t.Fatal("Write accepted a frame over the limit")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close succeeded after an error")
	}
}

func TestWriterReportsWriteError(t *testing.T) {
	w, _ := NewWriter(failingWriter{})
	w.WriteFrame([]byte("x"))
	if err := w.Close(); err == nil || !errors.Is(err, errDiskFull) {
		t.Fatalf("Close = %v, want the write error", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestReaderRefusesHostileTables(t *testing.T) {
	good := writeFrames(t, testFrames(5)[:3])
	n := len(good)
	footer := n - footerSize
	table := n - int(seekTableSize(3, entrySize))
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put32 := func(off int, v uint32) []byte {
		return mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b })
	}
	cases := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"truncated by one byte", good[:n-1]},
		{"truncated inside the frames", good[:n/2]},
		{"appended garbage", append(bytes.Clone(good), "garbage"...)},
		{"prepended garbage", append([]byte("garbage"), good...)},
		{"bad footer magic", put32(footer+5, 0x12345678)},
		{"reserved descriptor bits", mutate(func(b []byte) []byte { b[footer+4] = 0x04; return b })},
		{"checksum flag without checksums", mutate(func(b []byte) []byte { b[footer+4] = 0x80; return b })},
		{"frame count larger than the file", put32(footer, 1<<20)},
		{"frame count over the limit", put32(footer, 0xFFFFFFFF)},
		{"wrong seek table magic", put32(table, 0x184D2A5F)},
		{"wrong seek table size", put32(table+4, 100)},
		{"compressed size past the table", put32(table+8, 0xFFFFFFF0)},
		{"compressed sizes do not add up", put32(table+8, binary.LittleEndian.Uint32(good[table+8:])+1)},
		{"decompressed size over the limit", put32(table+12, DefaultMaxFrameSize+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil {
				r.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}

// TestFrameDamageDetected flips bytes inside the frames: opening still works
// (the table is intact) but reading the damaged frame fails.
func TestFrameDamageDetected(t *testing.T) {
	good := writeFrames(t, testFrames(6)[:4])
	r0, err := NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	end := r0.Frame(r0.NumFrames()-1).Offset + r0.Frame(r0.NumFrames()-1).CompressedSize
	r0.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		pos := rng.Int64N(end)
		bad := bytes.Clone(good)
		bad[pos] ^= byte(1 + rng.IntN(255))
		r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			t.Fatalf("flip at %d: open failed: %v", pos, err)
		}
		_, err = r.ReadAt(make([]byte, r.Size()), 0)
		r.Close()
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d not detected: %v", pos, err)
		}
	}
}

func FuzzSeekTable(f *testing.F) {
	f.Add(writeFrames(f, testFrames(8)[:3]))
	f.Add(writeFrames(f, [][]byte{[]byte("a")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer r.Close()
		if r.Size() > 1<<20 {
			return
		}
		_, _ = r.ReadAt(make([]byte, r.Size()), 0)
	})
}
