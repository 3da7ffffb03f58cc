package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// FuzzSeekTable opens arbitrary bytes as a bundle (seek table, pointer,
// index) and, when that succeeds, reads everything through the checked
// paths. Nothing may panic, hang or allocate without bound.
// Run: go test -run=^$ -fuzz=FuzzSeekTable -fuzztime=20s ./internal/bundle
func FuzzSeekTable(f *testing.F) {
	f.Add(writeBundle(f, []testEntry{{KindFile, "a", "files/a", []byte("hello")}}, nil, []byte("sig")))
	f.Add(writeBundle(f, []testEntry{{KindFile, "e", "files/e", nil}, {KindBlob, "b", "blobs/b", bytes.Repeat([]byte("ab"), 3000)}}, nil, nil))
	f.Add(forge(f, forgery{entries: []rawEntry{regular("files/x", []byte("x"))}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer r.Close()
		ctx := context.Background()
		_ = r.Verify(ctx, nil)
		_ = r.Scan(ctx, nil)
		for _, a := range r.Index().Artifacts {
			if rc, err := r.OpenRange(a, a.Size/2, a.Size-a.Size/2); err == nil {
				_, _ = io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
	})
}

// FuzzTarEntry feeds arbitrary bytes to the tar entry checks: the header
// parser used on every read and the sequential scanner.
// Run: go test -run=^$ -fuzz=FuzzTarEntry -fuzztime=20s ./internal/bundle
func FuzzTarEntry(f *testing.F) {
	file := writeBundle(f, []testEntry{{KindFile, "a", "files/a", []byte("hello")}, {KindFile, "long", "files/" + string(bytes.Repeat([]byte("x"), 150)), []byte("pax")}}, nil, nil)
	r := openBytes(f, file)
	stream := make([]byte, r.UncompressedSize())
	if _, err := r.sr.ReadAt(stream, 0); err != nil {
		f.Fatal(err)
	}
	f.Add(stream)
	f.Add(stream[:512])
	listed := map[string]expected{}
	for _, a := range r.Index().Artifacts {
		listed[a.Path] = expected{Artifact: a}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = checkEntryHeader(b, "files/a", 5)
		_ = scanTar(context.Background(), bytes.NewReader(b), listed, nil)
	})
}

// FuzzIndex puts arbitrary bytes in place of bundle.json inside an otherwise
// well-formed bundle, to reach the index parser and the layout checks,
// which FuzzSeekTable's mutations rarely get to past the seek table.
// Run: go test -run=^$ -fuzz=FuzzIndex -fuzztime=20s ./internal/bundle
func FuzzIndex(f *testing.F) {
	entries := []rawEntry{regular("files/a", []byte("hello")), regular("files/b", nil)}
	r := openBytes(f, forge(f, forgery{entries: entries}))
	f.Add(r.IndexBytes())
	f.Add([]byte(`{"schemaVersion":2,"artifacts":[{"kind":"file","path":"files/a","offset":512,"size":5}]}`))
	f.Fuzz(func(t *testing.T, index []byte) {
		if len(index) > 1<<16 {
			return
		}
		b := forge(t, forgery{entries: entries, indexBytes: func([]byte) []byte { return index }})
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		defer r.Close()
		// An index may list wrong digests (only a signature check rules
		// that out), but every failure must name a listed artifact.
		var ve *VerifyError
		if err := r.Verify(context.Background(), nil); err != nil && !errors.As(err, &ve) {
			t.Fatalf("Verify failed without naming an artifact: %v", err)
		}
	})
}
