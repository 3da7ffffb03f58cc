package cas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func formatSum(h hash.Hash) string { return "c:" + hex.EncodeToString(h.Sum(nil)) }

// TestFreshChunkDigests checks that the chunk digests computed while an
// object streams in equal those of its pieces, whatever the write sizes,
// and that only objects written through this Store are fresh.
func TestFreshChunkDigests(t *testing.T) {
	const chunk = 1000
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.HashChunks(chunk, sha256.New, formatSum)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 999, 1000, 1001, 2999, 3000, 3001, 10500} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		d := digestOf(data)
		w, err := s.Writer("test object", d, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		// Odd write sizes, so pieces straddle chunk boundaries.
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(700))
			if _, err := w.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if _, ok := s.Fresh(d); ok {
			t.Fatalf("%d bytes: fresh before Commit", n)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		got, ok := s.Fresh(d)
		if !ok {
			t.Fatalf("%d bytes: not fresh after Commit", n)
		}
		var want []string
		for off := 0; off < n; off += chunk {
			h := sha256.New()
			h.Write(data[off:min(off+chunk, n)])
			want = append(want, formatSum(h))
		}
		if len(got) != len(want) {
			t.Fatalf("%d bytes: %d chunk digests, want %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%d bytes: chunk %d is %s, want %s", n, i, got[i], want[i])
			}
		}
		if err := s.Remove(d); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Fresh(d); ok {
			t.Errorf("%d bytes: still fresh after Remove", n)
		}
	}
}

// TestFreshOnlyForGoodWrites: a write with the wrong content is neither
// stored nor fresh, and an object another Store (an earlier build) wrote is
// not fresh here.
func TestFreshOnlyForGoodWrites(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	s.HashChunks(4, sha256.New, formatSum)
	good := []byte("the content")
	d := digestOf(good)
	if err := s.Put("object", d, -1, bytes.NewReader([]byte("other content"))); err == nil {
		t.Fatal("Put stored content that does not match its digest")
	}
	if _, ok := s.Fresh(d); ok {
		t.Fatal("a refused write is fresh")
	}
	if err := s.Put("object", d, -1, bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	later, _ := Open(dir)
	later.HashChunks(4, sha256.New, formatSum)
	if _, ok := later.Fresh(d); ok {
		t.Fatal("an object from an earlier Store is fresh")
	}
	// Put of a present object reads nothing, so it is not fresh either.
	if err := later.Put("object", d, -1, bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if _, ok := later.Fresh(d); ok {
		t.Fatal("an object found in the cache is fresh")
	}
	rc, _, err := later.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, good) {
		t.Fatalf("read back %q, %v", b, err)
	}
}

// TestPutNew stores content of unknown digest under the digest of its
// bytes, readable and fresh; content longer than the bound stores nothing.
func TestPutNew(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("installer "), 1000)
	d, n, err := s.PutNew("file x", int64(len(data)), bytes.NewReader(data))
	if err != nil || d != digestOf(data) || n != int64(len(data)) {
		t.Fatalf("PutNew = %s, %d, %v; want %s, %d", d, n, err, digestOf(data), len(data))
	}
	if _, fresh := s.Fresh(d); !fresh {
		t.Error("a PutNew object is not fresh")
	}
	rc, _, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("reading it back: %v (%d bytes)", err, len(got))
	}
	more := append(data, '!')
	_, _, err = s.PutNew("file y", int64(len(data)), bytes.NewReader(more))
	if err == nil || !strings.Contains(err.Error(), "file y: larger than") {
		t.Fatalf("over the bound: %v, want an error naming file y", err)
	}
	if _, ok := s.Has(digestOf(more)); ok {
		t.Error("content over the bound was stored")
	}
	left, _ := os.ReadDir(filepath.Join(s.Dir(), "sha256"))
	if len(left) != 1 {
		t.Errorf("the cache holds %d entries, want the one object: %v", len(left), left)
	}
}

// TestReadFrom: io.Copy into a Writer (ReadFrom, in copyBufSize pieces)
// stores the same object as writes of any size, from a reader that yields
// a byte at a time too, and passes on a read error without committing.
func TestReadFrom(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.HashChunks(1000, sha256.New, formatSum)
	data := bytes.Repeat([]byte("0123456789abcdef"), copyBufSize/16*2+77)
	d := digestOf(data)
	for _, r := range []io.Reader{bytes.NewReader(data), iotest.HalfReader(bytes.NewReader(data))} {
		w, err := s.Writer("test object", d, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(w, r)
		if err != nil || n != int64(len(data)) {
			t.Fatalf("io.Copy = %d, %v; want %d", n, err, len(data))
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if chunks, ok := s.Fresh(d); !ok || len(chunks) != (len(data)+999)/1000 {
			t.Fatalf("fresh = %v with %d chunk digests", ok, len(chunks))
		}
	}
	for _, cut := range []error{errors.New("connection reset"), io.ErrUnexpectedEOF} {
		w, err := s.Writer("test object", d, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(cut))); !errors.Is(err, cut) {
			t.Fatalf("io.Copy error = %v, want %v (a body cut short is not its end)", err, cut)
		}
		w.Abort()
	}
}
