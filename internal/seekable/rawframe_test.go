package seekable

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestRawFrameDecodes checks hand-made raw frames of every header form
// against klauspost's decoder and the real zstd program.
func TestRawFrameDecodes(t *testing.T) {
	zstdPath, err := exec.LookPath("zstd")
	if err != nil {
		t.Fatal("the zstd program is missing: install the Debian package zstd")
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	dir := t.TempDir()
	for _, n := range []int{0, 1, 255, 256, 256 + 1<<16 - 1, 256 + 1<<16, rawBlockMax, rawBlockMax + 1, 3 * rawBlockMax, 4<<20 + 17} {
		p := randomBytes(uint64(n), n)
		f := appendRawFrame(nil, p)
		if int64(len(f)) != rawFrameSize(int64(n)) || int64(len(appendRawHeader(nil, int64(n)))) != rawHeaderLen(int64(n)) {
			t.Errorf("%d bytes: frame of %d bytes, rawFrameSize says %d", n, len(f), rawFrameSize(int64(n)))
		}
		if want := n + 4 + 1 + 3*max(1, (n+rawBlockMax-1)/rawBlockMax) + 4; len(f) > want+8 || len(f) < want {
			t.Errorf("%d bytes: raw frame of %d bytes, want about %d", n, len(f), want)
		}
		got, err := dec.DecodeAll(f, nil)
		if err != nil || !bytes.Equal(got, p) {
			t.Errorf("%d bytes: klauspost decoder: err %v, equal %v", n, err, bytes.Equal(got, p))
		}
		path := filepath.Join(dir, "f.zst")
		if err := os.WriteFile(path, f, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(zstdPath, "-dc", path).Output()
		if err != nil || !bytes.Equal(out, p) {
			t.Errorf("%d bytes: zstd -dc: err %v, equal %v", n, err, bytes.Equal(out, p))
		}
		// A flipped payload byte must fail the frame's checksum.
		if n > 0 {
			f[len(f)-5] ^= 1
			if _, err := dec.DecodeAll(f, nil); err == nil {
				t.Errorf("%d bytes: a flipped byte decoded without error", n)
			}
		}
	}
}

// TestRawPathChoice checks which frames skip the encoder: random ones do,
// text does, and a frame that is random only at its start is compressed.
func TestRawPathChoice(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(DefaultLevel), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("2026-11-30 07:00:00 INFO pulled layer sha256 ok\n"), 90000)[:4<<20]
	mixed := append(randomBytes(7, 1<<20), text[:3<<20]...)
	// The last frame of an uncompressed tar layer in a bundle: random
	// content, the layer tar's end (a 10 KiB record of zeros at most),
	// then the bundle's tar padding. The first: the bundle's tar header
	// (a name, then zeros) before the content.
	tarEnd := append(randomBytes(8, 2<<20), make([]byte, 10<<10+511)...)
	header := append([]byte("blobs/sha256/0123456789abcdef"), make([]byte, 512-29)...)
	withHeader := append(header, randomBytes(9, 1<<20)...)
	for _, c := range []struct {
		name string
		p    []byte
		raw  bool
	}{
		{"random 4 MiB", randomBytes(1, 4<<20), true},
		{"random 256 KiB", randomBytes(2, rawMinFrame), true},
		{"random, under the minimum", randomBytes(3, rawMinFrame-1), false},
		{"text", text, false},
		{"random then text", mixed, false},
		{"random, then a tar's end and padding", tarEnd, true},
		{"tar header, then random", withHeader, true},
		{"text, random between its edges", append(append(text[:20<<10:20<<10], randomBytes(10, 1<<20)...), text[:20<<10]...), false},
	} {
		raw, _ := incompressible(enc, c.p, nil)
		if raw != c.raw {
			t.Errorf("%s: raw = %v, want %v", c.name, raw, c.raw)
		}
	}
	// Through the Writer: a random frame costs only the raw framing, the
	// text frame shrinks, and both read back.
	frames := [][]byte{randomBytes(4, 4<<20), text}
	out := writeFrames(t, frames)
	r, err := NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(frames[0])+len(frames[1]))
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.Join(frames, nil)) {
		t.Fatal("read back differs")
	}
	if max := len(frames[0]) + len(frames[1])/4 + 1024; len(out) > max {
		t.Errorf("%d bytes written for 4 MiB random + 4 MiB text, want at most %d", len(out), max)
	}
}

// BenchmarkFrameRandom is the writer's cost on an incompressible 4 MiB
// frame: the raw path against the encoder.
func BenchmarkFrameRandom(b *testing.B) {
	p := randomBytes(9, 4<<20)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(DefaultLevel), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithSingleSegment(true), zstd.WithWindowSize(4<<20), zstd.WithLowerEncoderMem(true))
	out := make([]byte, 0, 5<<20)
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		var scratch []byte
		for range b.N {
			var raw bool
			raw, scratch = incompressible(enc, p, scratch)
			if !raw {
				b.Fatal("not raw")
			}
			out = appendRawFrame(out[:0], p)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for range b.N {
			out = enc.EncodeAll(p, out[:0])
		}
	})
}

// TestRawFrameReads reads raw frames back through both read paths (one
// preadv on a file, one ReadAt per piece on anything else), checked and
// unchecked, whole and in parts, and checks what damage each path sees.
func TestRawFrameReads(t *testing.T) {
	frames := [][]byte{randomBytes(11, 4<<20+700), randomBytes(12, rawMinFrame), randomBytes(13, 3*rawBlockMax)}
	file, f := framesFile(t, frames)
	all := bytes.Join(frames, nil)
	for name, ra := range map[string]io.ReaderAt{"file": f, "bytes": bytes.NewReader(file)} {
		r, err := NewReader(ra, int64(len(file)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.NumFrames() {
			fr := r.Frame(i)
			if fr.CompressedSize != rawFrameSize(fr.UncompressedSize) {
				t.Fatalf("%s: frame %d is not stored raw", name, i)
			}
		}
		for _, read := range []func([]byte, int64) (int, error){r.ReadAt, r.ReadAtUnchecked} {
			for _, rg := range [][2]int{{0, len(all)}, {5, 1 << 20}, {4<<20 + 100, 300 << 10}} {
				got := make([]byte, rg[1])
				if _, err := read(got, int64(rg[0])); err != nil || !bytes.Equal(got, all[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("%s: range %v: %v", name, rg, err)
				}
			}
		}
		r.Close()
	}

	// A flipped payload byte: the checked read fails, the unchecked one
	// returns the bytes as stored (its caller verifies them).
	bad := bytes.Clone(file)
	r, _ := NewReader(bytes.NewReader(bad), int64(len(bad)))
	defer r.Close()
	fr := r.Frame(0)
	bad[fr.Offset+fr.CompressedSize/2] ^= 1
	got := make([]byte, fr.UncompressedSize)
	if _, err := r.ReadAt(got, 0); err == nil {
		t.Error("ReadAt returned a damaged raw frame without error")
	}
	if _, err := r.ReadAtUnchecked(got, 0); err != nil || bytes.Equal(got, frames[0]) {
		t.Errorf("ReadAtUnchecked: err %v; want the stored (damaged) bytes", err)
	}
	bad[fr.Offset+fr.CompressedSize/2] ^= 1
	// A damaged block header: not the raw frame its size promised, so the
	// decoder reads it and reports the damage, checked or not.
	bad[fr.Offset+int64(len(appendRawHeader(nil, fr.UncompressedSize)))+3+rawBlockMax] ^= 0x06
	for _, read := range []func([]byte, int64) (int, error){r.ReadAt, r.ReadAtUnchecked} {
		if _, err := read(got, 0); err == nil {
			t.Error("a frame with a damaged block header was read without error")
		}
	}
}

// TestRawReadsDoNotWaitForEachOther: a raw frame is read with preadv while
// another goroutine holds the file's read lock (as a concurrent read of
// the same frame would): positional reads run side by side, so the chunk
// reads of a served bundle are not queued one behind the other.
func TestRawReadsDoNotWaitForEachOther(t *testing.T) {
	frame := randomBytes(21, 4<<20)
	file, f := framesFile(t, [][]byte{frame})
	r, err := NewReader(f, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	go rc.Read(func(uintptr) bool { close(held); <-release; return true })
	<-held
	defer close(release)
	done := make(chan error, 1)
	got := make([]byte, len(frame))
	go func() { _, err := r.ReadAtUnchecked(got, 0); done <- err }()
	select {
	case err := <-done:
		if err != nil || !bytes.Equal(got, frame) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the raw frame read waited for another read of the file")
	}
}

// framesFile writes frames as a seekable file on disk and opens it (closed
// when the test ends); it returns the file's bytes too.
func framesFile(t *testing.T, frames [][]byte) ([]byte, *os.File) {
	t.Helper()
	file := writeFrames(t, frames)
	path := filepath.Join(t.TempDir(), "raw.zst")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return file, f
}
