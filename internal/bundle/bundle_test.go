package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("signature"))
	r := openBytes(t, file)
	if got := r.Signature(); string(got) != "signature" {
		t.Errorf("Signature() = %q", got)
	}
	if len(r.Index().Artifacts) != len(entries) {
		t.Fatalf("%d artifacts, want %d", len(r.Index().Artifacts), len(entries))
	}
	for _, e := range entries {
		a, ok := r.Lookup(e.path)
		if !ok {
			t.Fatalf("Lookup(%s) failed", e.path)
		}
		if a.Kind != e.kind || a.Name != e.name || a.Digest != sha(e.data) || a.Size != int64(len(e.data)) {
			t.Errorf("%s: artifact %+v", e.path, a)
		}
		if want := NumChunks(int64(len(e.data))); len(a.Chunks) != want {
			t.Errorf("%s: %d chunks, want %d", e.path, len(a.Chunks), want)
		}
		rc, err := r.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%s: read %d bytes, %v; content equal: %v", e.path, len(got), err, bytes.Equal(got, e.data))
		}
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("Lookup found a path that is not there")
	}
	if err := r.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var scanned []string
	if err := r.Scan(context.Background(), func(a Artifact, err error) {
		if err != nil {
			t.Errorf("%s: %v", a, err)
		}
		scanned = append(scanned, a.Path)
	}); err != nil {
		t.Fatal(err)
	}
	if len(scanned) != len(entries) {
		t.Errorf("Scan reported %d artifacts, want %d", len(scanned), len(entries))
	}
}

func TestOpenRange(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, nil)
	r := openBytes(t, file)
	for _, e := range entries {
		a, _ := r.Lookup(e.path)
		n := int64(len(e.data))
		for _, rg := range [][2]int64{{0, n}, {0, 0}, {n / 3, n / 3}, {n - min(n, 10), min(n, 10)}, {min(n, ChunkSize-5), min(n-min(n, ChunkSize-5), 10)}} {
			rc, err := r.OpenRange(a, rg[0], rg[1])
			if err != nil {
				t.Fatalf("%s %v: %v", e.path, rg, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, e.data[rg[0]:rg[0]+rg[1]]) {
				t.Fatalf("%s %v: %v, equal %v", e.path, rg, err, bytes.Equal(got, e.data[rg[0]:rg[0]+rg[1]]))
			}
		}
		if _, err := r.OpenRange(a, n, 1); err == nil {
			t.Errorf("%s: a range past the end was accepted", e.path)
		}
	}
	if _, err := r.Open(Artifact{Path: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of an unknown artifact: %v", err)
	}
}

// TestRandomAccessReadsOnlyItsFrames checks that reading one artifact, or
// one chunk of it, reads about its own compressed bytes, not the file's.
func TestRandomAccessReadsOnlyItsFrames(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, nil)
	cra := &countingReaderAt{ra: bytes.NewReader(file)}
	r, err := NewReader(cra, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if opened := cra.n.Load(); opened > 64<<10 {
		t.Errorf("opening read %d bytes of a %d-byte file", opened, len(file))
	}
	for _, e := range entries {
		a, _ := r.Lookup(e.path)
		own := r.compressedExtent(a)
		cra.n.Store(0)
		rc, _ := r.Open(a)
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if got := cra.n.Load(); got != own {
			t.Errorf("%s: reading it read %d bytes, its frames hold %d (file: %d)", e.path, got, own, len(file))
		}
	}
	big, _ := r.Lookup(blobPath(entries[len(entries)-1].data)) // any; find the chunked one below
	for _, e := range entries {
		if len(e.data) > 2*ChunkSize {
			big, _ = r.Lookup(e.path)
		}
	}
	// A range past the first chunk checks the entry's tar header too: on a
	// Reader that has not read it yet, that is one more frame (the header
	// and chunk 0), the first time only.
	fresh, err := NewReader(cra, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for i, want := range []int64{2 * ChunkSize, ChunkSize} {
		cra.n.Store(0)
		rc, _ := fresh.OpenRange(big, ChunkSize+int64(i+1)*100, 1000)
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if got := cra.n.Load(); got > want+want/100 || got < want {
			t.Errorf("range %d: a 1000-byte range in chunk 1 of a random blob read %d bytes, want about %d", i, got, want)
		}
	}
	// On the Reader that read the whole blob above, a range reads one chunk.
	cra.n.Store(0)
	rc, _ := r.OpenRange(big, ChunkSize+100, 1000)
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	if got := cra.n.Load(); got > ChunkSize+ChunkSize/100 || got < ChunkSize {
		t.Errorf("a 1000-byte range in chunk 1 of a random blob read %d bytes, want about one chunk (%d)", got, ChunkSize)
	}
}

// compressedExtent returns the compressed size of the frames holding a.
func (r *Reader) compressedExtent(a Artifact) int64 {
	first, _ := r.sr.FrameAt(a.Offset - 1)
	last, _ := r.sr.FrameAt(a.Offset + padded(a.Size) - 1)
	var n int64
	for i := first; i <= last; i++ {
		n += r.sr.Frame(i).CompressedSize
	}
	return n
}

func TestReproducible(t *testing.T) {
	entries, images := standardEntries()
	one := writeBundle(t, entries, images, []byte("sig"), WithWorkers(1))
	four := writeBundle(t, entries, images, []byte("sig"), WithWorkers(4))
	if !bytes.Equal(one, four) {
		t.Fatal("1 and 4 workers give different bundles")
	}
	if again := writeBundle(t, entries, images, []byte("sig"), WithWorkers(1)); !bytes.Equal(one, again) {
		t.Fatal("the same inputs give different bundles")
	}
}

// TestStandardTools runs the real zstd and tar on a bundle.
func TestStandardTools(t *testing.T) {
	for _, prog := range []string{"zstd", "tar", "sh"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is missing: install the Debian package %s", prog, map[string]string{"zstd": "zstd", "tar": "tar", "sh": "dash"}[prog])
		}
	}
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("signature bytes"))
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("zstd -t: %v\n%s", err, out)
	}
	x := filepath.Join(dir, "x")
	os.Mkdir(x, 0o755)
	cmd := exec.Command("sh", "-c", `zstd -dc "$1" | tar -x -C "$2"`, "sh", path, x)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -dc | tar -x: %v\n%s", err, out)
	}
	r := openBytes(t, file)
	want := map[string][]byte{IndexName: r.IndexBytes(), SignatureName: []byte("signature bytes")}
	for _, e := range entries {
		want[e.path] = e.data
	}
	checkTree(t, x, want)
	out, err := exec.Command("sh", "-c", `zstd -dc "$1" | tar -tv`, "sh", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "-rw-r--r-- 0/0") || !strings.Contains(line, "1970-01-01") {
			t.Errorf("tar -tv line %q: want a 0644 regular file owned by 0/0 dated 1970-01-01", line)
		}
	}
}

// checkTree asserts that dir holds exactly the files in want.
func checkTree(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			t.Errorf("%s is not a regular file", p)
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		if g, ok := got[p]; !ok || !bytes.Equal(g, b) {
			t.Errorf("%s: missing or different (present %v)", p, ok)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected file %s", p)
		}
	}
}

func TestWriterRefusals(t *testing.T) {
	cases := []struct {
		name string
		do   func(w *Writer) error
	}{
		{"short reader", func(w *Writer) error { _, err := w.Add("a", 10, strings.NewReader("12345")); return err }},
		{"long reader", func(w *Writer) error { _, err := w.Add("a", 3, strings.NewReader("12345")); return err }},
		{"duplicate", func(w *Writer) error {
			w.Add("a", 1, strings.NewReader("1"))
			_, err := w.Add("a", 1, strings.NewReader("1"))
			return err
		}},
		{"file under a file", func(w *Writer) error {
			w.Add("a", 1, strings.NewReader("1"))
			_, err := w.Add("a/b", 1, strings.NewReader("1"))
			return err
		}},
		{"file over a directory", func(w *Writer) error {
			w.Add("a/b", 1, strings.NewReader("1"))
			_, err := w.Add("a", 1, strings.NewReader("1"))
			return err
		}},
		{"reserved index name", func(w *Writer) error { _, err := w.Add(IndexName, 0, strings.NewReader("")); return err }},
		{"reserved signature name", func(w *Writer) error { _, err := w.Add(SignatureName, 0, strings.NewReader("")); return err }},
		{"absolute path", func(w *Writer) error { _, err := w.Add("/etc/passwd", 0, strings.NewReader("")); return err }},
		{"dot-dot", func(w *Writer) error { _, err := w.Add("a/../../b", 0, strings.NewReader("")); return err }},
		{"negative size", func(w *Writer) error { _, err := w.Add("a", -1, strings.NewReader("")); return err }},
		{"index missing an entry", func(w *Writer) error {
			w.Add("a", 1, strings.NewReader("1"))
			b, _ := (&Index{SchemaVersion: SchemaVersion}).Marshal()
			return w.Finish(b, nil)
		}},
		{"index with a wrong digest", func(w *Writer) error {
			e, _ := w.Add("a", 1, strings.NewReader("1"))
			a := e.Artifact(KindFile, "a")
			a.Digest = sha([]byte("2"))
			b, _ := (&Index{SchemaVersion: SchemaVersion, Artifacts: []Artifact{a}}).Marshal()
			return w.Finish(b, nil)
		}},
		{"invalid index JSON", func(w *Writer) error { return w.Finish([]byte("{"), nil) }},
		{"empty signature", func(w *Writer) error {
			b, _ := (&Index{SchemaVersion: SchemaVersion}).Marshal()
			return w.Finish(b, []byte{})
		}},
		{"bad option", func(*Writer) error {
			_, err := NewWriter(io.Discard, WithWorkers(0)).Add("a", 0, strings.NewReader(""))
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWriter(io.Discard)
			defer w.Abort()
			if err := c.do(w); err == nil {
				t.Fatal("accepted")
			} else {
				t.Log(err)
			}
		})
	}
}

func TestWriterUnusableAfterError(t *testing.T) {
	w := NewWriter(io.Discard)
	if _, err := w.Add("a", 10, strings.NewReader("1")); err == nil {
		t.Fatal("short reader accepted")
	}
	_, err := w.Add("b", 1, strings.NewReader("1"))
	if !errors.Is(err, ErrWriterFailed) {
		t.Fatalf("Add after an error: %v, want ErrWriterFailed", err)
	}
}

func TestIndexMarshalIsCanonical(t *testing.T) {
	x := &Index{SchemaVersion: SchemaVersion, Artifacts: []Artifact{
		{Kind: KindFile, Name: "b", Path: "b", Digest: sha(nil), Offset: 512},
		{Kind: KindFile, Name: "a", Path: "a", Digest: sha(nil), Offset: 1024},
	}, Components: []Component{{Name: "z", Files: []string{"b", "a"}}, {Name: "y"}}}
	b1, _ := x.Marshal()
	x.Artifacts[0], x.Artifacts[1] = x.Artifacts[1], x.Artifacts[0]
	b2, _ := x.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatal("Marshal depends on the order of the lists")
	}
	if strings.Index(string(b1), `"path": "a"`) > strings.Index(string(b1), `"path": "b"`) {
		t.Error("artifacts are not sorted by path")
	}
	if _, err := ParseIndex(b1); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIndex(bytes.Replace(b1, []byte(`"name"`), []byte(`"nmae"`), 1)); err == nil {
		t.Error("ParseIndex accepted an unknown field")
	}
}

// TestConcurrentReads reads every artifact from many goroutines at once
// through one Reader (run with -race).
func TestConcurrentReads(t *testing.T) {
	entries, images := standardEntries()
	r := openBytes(t, writeBundle(t, entries, images, nil))
	errs := make(chan error, 8*len(entries))
	var wg sync.WaitGroup
	for g := range 8 {
		for _, e := range entries {
			wg.Go(func() {
				a, _ := r.Lookup(e.path)
				off := int64(g) * a.Size / 8
				rc, err := r.OpenRange(a, off, a.Size-off)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil || !bytes.Equal(got, e.data[off:]) {
					errs <- fmt.Errorf("%s from %d: %v, content equal %v", e.path, off, err, bytes.Equal(got, e.data[off:]))
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEmptyBundle(t *testing.T) {
	for _, sig := range [][]byte{nil, []byte("s")} {
		file := writeBundle(t, nil, nil, sig)
		r := openBytes(t, file)
		if len(r.Index().Artifacts) != 0 || (r.Signature() == nil) != (sig == nil) {
			t.Fatalf("index %+v, signature %q", r.Index(), r.Signature())
		}
		if err := r.Verify(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Scan(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChunkDigestsAreBLAKE3 pins the format: chunk digests are BLAKE3, a
// sha256 chunk digest or an index of schema 1 is refused with the fix.
func TestChunkDigestsAreBLAKE3(t *testing.T) {
	data := bytes.Repeat([]byte("chunk"), ChunkSize/4)
	x := &Index{SchemaVersion: SchemaVersion, Artifacts: []Artifact{{Kind: KindFile, Name: "f", Path: "f", Digest: sha(data), Size: int64(len(data)), Offset: 512,
		Chunks: []string{ChunkDigest(data[:ChunkSize]), ChunkDigest(data[ChunkSize:])}}}}
	good, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIndex(good); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(x.Artifacts[0].Chunks[0], "blake3:") {
		t.Fatalf("chunk digest %s is not BLAKE3", x.Artifacts[0].Chunks[0])
	}
	x.Artifacts[0].Chunks[1] = sha(data[ChunkSize:])
	bad, _ := x.Marshal()
	if _, err := ParseIndex(bad); err == nil || !strings.Contains(err.Error(), "malformed chunk digest") {
		t.Errorf("a sha256 chunk digest: err = %v, want a malformed chunk digest", err)
	}
	old := bytes.Replace(good, []byte(`"schemaVersion": 2`), []byte(`"schemaVersion": 1`), 1)
	if _, err := ParseIndex(old); err == nil || !strings.Contains(err.Error(), "older bundle tool; build it again") {
		t.Errorf("schema 1: err = %v, want the rebuild advice", err)
	}
}

// TestCloseDuringRead closes readers while other goroutines still read them,
// as net/http's HTTP/2 transport does with a request body when it aborts a
// stream. Run under -race (make test-race), a Close that hands the buffer
// back to the pool while a Read copies from it is reported; without -race,
// a buffer reused by the next reader while the first still copied from it
// would show as bytes that differ from the artifact's.
func TestCloseDuringRead(t *testing.T) {
	data := randomBytes(7, 3*ChunkSize+123)
	entries := []testEntry{{kind: "file", name: "big", path: "files/big", data: data}}
	r := openBytes(t, writeBundle(t, entries, nil, nil))
	a, _ := r.Lookup("files/big")
	for round := range 50 {
		rc, err := r.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 4096)
			var off int
			for {
				n, err := rc.Read(buf)
				if !bytes.Equal(buf[:n], data[off:off+n]) {
					done <- fmt.Errorf("round %d: bytes at %d differ from the artifact's", round, off)
					return
				}
				off += n
				if err != nil {
					done <- nil // io.EOF or "read after Close": both fine
					return
				}
			}
		}()
		// Another reader takes pooled buffers meanwhile.
		other, err := r.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, other, int64(round%3+1)*ChunkSize/2); err != nil {
			t.Fatal(err)
		}
		other.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n, err := rc.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("Read after Close = %d, %v; want an error", n, err)
		}
	}
}
