package bundle

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// digester is a Digester over a byte slice with digests it was told.
type digester struct {
	io.Reader
	known Known
}

func (d *digester) Known() Known { return d.known }

// TestAddDigestedAndOpenUnchecked: entries written with AddDigested list
// the reader's digests and make the same file as Add; OpenUnchecked reads
// every entry back whole, the empty one and the one of three chunks too.
func TestAddDigestedAndOpenUnchecked(t *testing.T) {
	entries, images := standardEntries()
	want := writeBundle(t, entries, images, nil)
	byDigester := writeBundleWith(t, entries, images, nil, func(w *Writer, e testEntry) (Entry, error) {
		ref, err := NewWriter(io.Discard).Add(e.path, int64(len(e.data)), bytes.NewReader(e.data))
		if err != nil {
			return Entry{}, err
		}
		return w.AddDigested(e.path, int64(len(e.data)), &digester{bytes.NewReader(e.data), Known{Digest: ref.Digest, Chunks: ref.Chunks}})
	})
	if !bytes.Equal(want, byDigester) {
		t.Fatal("AddDigested wrote another file than Add")
	}
	r := openBytes(t, want)
	for _, e := range entries {
		a, _ := r.Lookup(e.path)
		rc, err := r.OpenUnchecked(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%s: read %d bytes, %v; want its %d bytes", e.path, len(got), err, len(e.data))
		}
	}
}

// TestAddDigestedFailsOnItsReader: a reader that fails at its end (its
// content not what was promised) fails the Writer.
func TestAddDigestedFailsOnItsReader(t *testing.T) {
	w := NewWriter(io.Discard)
	bad := errors.New("digest mismatch")
	_, err := w.AddDigested("blobs/sha256/x", 3, &digester{Reader: io.MultiReader(bytes.NewReader([]byte("abc")), errReader{bad})})
	if !errors.Is(err, bad) {
		t.Fatalf("err %v, want the reader's", err)
	}
	if _, err := w.Add("files/y", 0, bytes.NewReader(nil)); !errors.Is(err, ErrWriterFailed) {
		t.Fatalf("the writer is still usable: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
