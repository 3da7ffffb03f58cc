package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// knownOf computes what a download would have: the sha256 and the chunk
// digests of data.
func knownOf(data []byte) Known {
	k := Known{Digest: sha(data)}
	if NumChunks(int64(len(data))) > 0 {
		for off := 0; off < len(data); off += ChunkSize {
			k.Chunks = append(k.Chunks, ChunkDigest(data[off:min(off+ChunkSize, len(data))]))
		}
	}
	return k
}

// writeKnown is writeBundle with AddKnown; lie, when not nil, may change
// the digests passed for an entry.
func writeKnown(t *testing.T, entries []testEntry, images []Image, lie func(path string, k *Known)) []byte {
	t.Helper()
	return writeBundleWith(t, entries, images, nil, func(w *Writer, e testEntry) (Entry, error) {
		k := knownOf(e.data)
		if lie != nil {
			lie(e.path, &k)
		}
		return w.AddKnown(e.path, int64(len(e.data)), bytes.NewReader(e.data), k)
	})
}

// TestAddKnownSameBytes: a bundle written with the digests known ahead is
// byte for byte the one Add writes, which hashes everything itself.
func TestAddKnownSameBytes(t *testing.T) {
	entries, images := standardEntries()
	hashed := writeBundle(t, entries, images, nil)
	known := writeKnown(t, entries, images, nil)
	if !bytes.Equal(hashed, known) {
		t.Fatal("AddKnown and Add wrote different bundles for the same content")
	}
}

// TestAddKnownWrongDigestCaught: when the known digests do not match the
// bytes, reading the entry fails naming it and Verify reports it.
func TestAddKnownWrongDigestCaught(t *testing.T) {
	entries, images := standardEntries()
	var victim testEntry
	for _, e := range entries {
		if NumChunks(int64(len(e.data))) > 1 {
			victim = e
			break
		}
	}
	if victim.path == "" {
		t.Fatal("the standard entries have no entry of several chunks")
	}
	other := randomBytes(99, ChunkSize)
	b := writeKnown(t, entries, images, func(p string, k *Known) {
		if p == victim.path {
			k.Chunks[1] = ChunkDigest(other)
		}
	})
	r := openBytes(t, b)
	a, _ := r.Lookup(victim.path)
	rc, err := r.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	var ae *ArtifactError
	if !errors.As(err, &ae) || !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "chunk 1") {
		t.Fatalf("reading the entry: err = %v, want a digest error for chunk 1", err)
	}
	err = r.Verify(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), victim.path) {
		t.Fatalf("Verify: err = %v, want it to name %s", err, victim.path)
	}
}

func TestAddKnownRefusals(t *testing.T) {
	data := randomBytes(5, ChunkSize+10)
	good := knownOf(data)
	for _, c := range []struct {
		name string
		k    Known
		want string
	}{
		{"no digest", Known{Chunks: good.Chunks}, "not a sha256 digest"},
		{"missing chunk", Known{Digest: good.Digest, Chunks: good.Chunks[:1]}, "1 chunk digests"},
		{"sha256 chunk", Known{Digest: good.Digest, Chunks: []string{good.Chunks[0], sha(data)}}, "malformed chunk digest"},
	} {
		w := NewWriter(io.Discard)
		if _, err := w.AddKnown("files/x", int64(len(data)), bytes.NewReader(data), c.k); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		w.Abort()
	}
}
