package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/seekable"
)

// rawEntry is a tar entry of a forged bundle, written as given.
type rawEntry struct {
	hdr      *tar.Header
	data     []byte
	unlisted bool // leave it out of bundle.json
}

func regular(name string, data []byte) rawEntry {
	return rawEntry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: time.Unix(0, 0)}, data: data}
}

// forgery describes a hand-built bundle; the mutators run before writing.
type forgery struct {
	entries     []rawEntry
	index       func(*Index)
	indexBytes  func([]byte) []byte
	ptr         func(*pointer)
	afterTarEnd []byte // extra uncompressed bytes in the end frame
}

// forge writes a bundle by hand with archive/tar and the seekable writer,
// bypassing every check of Writer, so that tests can build hostile files.
func forge(t testing.TB, f forgery) []byte {
	t.Helper()
	var out bytes.Buffer
	sw, err := seekable.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	var pos int64
	tw := tar.NewWriter(writerFunc(func(b []byte) (int, error) { pos += int64(len(b)); return sw.Write(b) }))
	put := func(e rawEntry) int64 {
		sw.EndFrame()
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		off := pos
		for i := 0; i < len(e.data); i += ChunkSize { // a frame per chunk, as Writer does
			if i > 0 {
				sw.EndFrame()
			}
			tw.Write(e.data[i:min(i+ChunkSize, len(e.data))])
		}
		tw.Flush()
		sw.EndFrame()
		return off
	}
	x := &Index{SchemaVersion: SchemaVersion, Name: "forged"}
	for _, e := range f.entries {
		off := put(e)
		if !e.unlisted {
			x.Artifacts = append(x.Artifacts, Artifact{Kind: KindFile, Name: e.hdr.Name, Path: e.hdr.Name, Digest: sha(e.data), Size: int64(len(e.data)), Offset: off, Chunks: chunkDigests(e.data)})
		}
	}
	if f.index != nil {
		f.index(x)
	}
	ib, _ := json.Marshal(x)
	if f.indexBytes != nil {
		ib = f.indexBytes(ib)
	}
	var p pointer
	p.Index = span{Offset: put(regular(IndexName, ib)), Size: int64(len(ib)), Digest: sha256.Sum256(ib)}
	p.TarEnd = pos
	tw.Close()
	sw.Write(f.afterTarEnd)
	sw.EndFrame()
	if f.ptr != nil {
		f.ptr(&p)
	}
	sw.WriteSkippable(PointerMagic, p.marshal())
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func chunkDigests(b []byte) []string {
	var c []string
	for i := 0; NumChunks(int64(len(b))) > 0 && i < len(b); i += ChunkSize {
		c = append(c, ChunkDigest(b[i:min(i+ChunkSize, len(b))]))
	}
	return c
}

// refusal says where a hostile bundle must be refused and with what text.
type refusal struct {
	name  string
	file  []byte
	want  string // in the error message
	where string // "open", or "read" (Open of the first artifact, Verify, Scan and extract.Extract)
}

func hostileBundles(t *testing.T) []refusal {
	good := forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("aaa")), regular("files/b", []byte("bbbb"))}})
	link := func(typ byte, name string) rawEntry {
		return rawEntry{hdr: &tar.Header{Typeflag: typ, Name: name, Linkname: "/etc/passwd", Mode: 0o644, ModTime: time.Unix(0, 0)}}
	}
	withGap := func(e rawEntry) forgery {
		e.unlisted = true
		return forgery{entries: []rawEntry{regular("files/a", []byte("a")), e, regular("files/b", []byte("b"))}}
	}
	return []refusal{
		{"path traversal, listed", forge(t, forgery{entries: []rawEntry{regular("../evil", []byte("x"))}}), `".."`, "open"},
		{"path traversal, unlisted", forge(t, withGap(regular("../evil", []byte("x")))), "unlisted data", "open"},
		{"absolute path, listed", forge(t, forgery{entries: []rawEntry{regular("/etc/cron.d/evil", []byte("x"))}}), "absolute", "open"},
		{"absolute path, unlisted", forge(t, withGap(regular("/etc/cron.d/evil", []byte("x")))), "unlisted data", "open"},
		{"symlink", forge(t, forgery{entries: []rawEntry{link(tar.TypeSymlink, "files/link")}}), "symlink", "read"},
		{"hardlink", forge(t, forgery{entries: []rawEntry{link(tar.TypeLink, "files/link")}}), "hardlink", "read"},
		{"char device", forge(t, forgery{entries: []rawEntry{{hdr: &tar.Header{Typeflag: tar.TypeChar, Name: "files/dev", Mode: 0o644, Devmajor: 1, Devminor: 3}}}}), "device", "read"},
		{"block device", forge(t, forgery{entries: []rawEntry{{hdr: &tar.Header{Typeflag: tar.TypeBlock, Name: "files/dev", Mode: 0o644, Devmajor: 8}}}}), "device", "read"},
		{"setuid file", forge(t, forgery{entries: []rawEntry{{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "files/suid", Mode: 0o4755}}}}), "mode", "read"},
		{"setuid file of two chunks", forge(t, forgery{entries: []rawEntry{{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: "files/suid", Mode: 0o4755, Size: ChunkSize + 10}, data: make([]byte, ChunkSize+10)}}}), "mode", "read"},
		{"file and directory", forge(t, forgery{entries: []rawEntry{regular("files/x", []byte("x")), regular("files/x/y", []byte("y"))}}), `lists "files/x" as a file and also "files/x/y" inside it`, "open"},
		{"directory then file", forge(t, forgery{entries: []rawEntry{regular("files/x/y/z", []byte("y")), regular("files/x", []byte("x"))}}), `lists "files/x" as a file and also "files/x/y/z" inside it`, "open"},
		{"entry under the index", forge(t, forgery{entries: []rawEntry{regular("bundle.json/x", []byte("x"))}}), `lists "bundle.json" as a file`, "open"},
		{"entry named as another", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x"))}, index: func(x *Index) { x.Artifacts[0].Path, x.Artifacts[0].Name = "files/z", "files/z" }}), `files/a`, "read"},
		{"duplicate listing", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x")), regular("files/b", []byte("x"))}, index: func(x *Index) { x.Artifacts[1].Path = "files/a" }}), "listed twice", "open"},
		{"duplicate entry, second unlisted", forge(t, withGap(regular("files/a", []byte("x")))), "unlisted data", "open"},
		{"size larger than the file", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x"))}, index: func(x *Index) {
			x.Artifacts[0].Size = 1 << 40
			x.Artifacts[0].Chunks = make([]string, NumChunks(1<<40))
		}}), "", "open"},
		{"size larger than the file, no chunks", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x"))}, index: func(x *Index) { x.Artifacts[0].Size = 5000 }}), "", "open"},
		{"offset outside the file", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x"))}, index: func(x *Index) { x.Artifacts[0].Offset = 1 << 50 }}), "outside", "open"},
		{"negative offset", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x"))}, index: func(x *Index) { x.Artifacts[0].Offset = -1 }}), "impossible", "open"},
		{"overlapping entries", forge(t, forgery{entries: []rawEntry{regular("files/a", []byte("x")), regular("files/b", []byte("y"))}, index: func(x *Index) { x.Artifacts[1].Offset = x.Artifacts[0].Offset }}), "", "open"},
		{"index offset outside the file", forge(t, forgery{ptr: func(p *pointer) { p.Index.Offset = 1 << 40 }}), "outside the tar stream", "open"},
		{"index size outside the file", forge(t, forgery{ptr: func(p *pointer) { p.Index.Size = 1 << 30 }}), "outside the tar stream", "open"},
		{"index digest wrong", forge(t, forgery{ptr: func(p *pointer) { p.Index.Digest[0] ^= 1 }}), "sha256", "open"},
		{"tar end outside the file", forge(t, forgery{ptr: func(p *pointer) { p.TarEnd = 1 << 40 }}), "tar stream should end", "open"},
		{"garbage after the tar end", forge(t, forgery{afterTarEnd: []byte("hidden")}), "", "open"},
		{"unknown field in the index", forge(t, forgery{indexBytes: func(b []byte) []byte { return bytes.Replace(b, []byte(`{`), []byte(`{"evil":1,`), 1) }}), "unknown field", "open"},
		{"index with trailing data", forge(t, forgery{indexBytes: func(b []byte) []byte { return append(b, "{}"...) }}), "after the JSON", "open"},
		{"truncated", good[:len(good)-100], "", "open"},
		{"truncated to the data", good[:len(good)/2], "", "open"},
		{"appended garbage", append(bytes.Clone(good), "garbage"...), "", "open"},
		{"appended copy of itself", append(bytes.Clone(good), good...), "", "open"},
		{"not a bundle", []byte("hello, world, this is not a bundle at all"), "", "open"},
		{"plain seekable file", plainSeekable(t), "not a bundle", "open"},
	}
}

func plainSeekable(t *testing.T) []byte {
	var out bytes.Buffer
	sw, _ := seekable.NewWriter(&out)
	sw.WriteFrame([]byte("data"))
	sw.WriteFrame([]byte("more"))
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestHostileBundlesRefused(t *testing.T) {
	for _, c := range hostileBundles(t) {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)))
			if c.where == "open" {
				if err == nil {
					r.Close()
					t.Fatal("opened")
				}
				checkRefusal(t, err, c.want)
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer r.Close()
			a := r.Index().Artifacts[0]
			rc, err := r.Open(a)
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			checkRefusal(t, err, c.want)
			// Every range checks the header, an empty one or one past the
			// first chunk too.
			ranges := [][2]int64{{0, 0}}
			if a.Size > 0 {
				ranges = append(ranges, [2]int64{a.Size, 0}, [2]int64{0, a.Size})
			}
			if a.Size > ChunkSize {
				ranges = append(ranges, [2]int64{ChunkSize, 1}, [2]int64{ChunkSize, 0})
			}
			for _, rg := range ranges {
				rc, err := r.OpenRange(a, rg[0], rg[1])
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				t.Run(fmt.Sprintf("range %d+%d", rg[0], rg[1]), func(t *testing.T) { checkRefusal(t, err, c.want) })
			}
			checkRefusal(t, r.Verify(context.Background(), nil), c.want)
			checkRefusal(t, r.Scan(context.Background(), nil), c.want)
			// Extract: TestHostileBundlesRefusedByExtract.
		})
	}
}

func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsafePath) && !errors.Is(err, ErrDigest) {
		t.Errorf("error %q wraps none of ErrCorrupt, ErrUnsafePath, ErrDigest", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
}

// TestScanTarRefusals feeds scanTar hand-made tar streams, as a bundle
// written by another program could hold.
func TestScanTarRefusals(t *testing.T) {
	mk := func(entries ...rawEntry) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range entries {
			tw.WriteHeader(e.hdr)
			tw.Write(e.data)
		}
		tw.Close()
		return b.Bytes()
	}
	a := regular("files/a", []byte("a"))
	listed := map[string]expected{"files/a": {Artifact: Artifact{Path: "files/a", Offset: 512, Size: 1, Digest: sha([]byte("a"))}}}
	cases := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"good", mk(a), ""},
		{"unlisted entry", mk(a, regular("files/b", nil)), "not listed"},
		{"duplicate", mk(a, a), "twice"},
		{"traversal", mk(regular("../../x", nil)), `".."`},
		{"absolute", mk(regular("/x", nil)), "absolute"},
		{"directory", mk(rawEntry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: "files/", Mode: 0o755}}), "directory"},
		{"symlink", mk(rawEntry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Name: "files/a", Linkname: "/etc", Mode: 0o777}}), "symlink"},
		{"missing entry", mk(), "ends after 0 of the 1"},
		{"wrong content", mk(regular("files/a", []byte("b"))), "bundle.json says"},
		{"truncated in the padding", mk(a)[:700], "truncated"},
		{"truncated in the data", mk(regular("files/a", []byte("abcdef")))[:514], ""},
		{"truncated in the end blocks", mk(a)[:1500], ""},
		{"garbage after the end", append(mk(a), "x"...), "after the tar end"},
		{"garbage instead of the second end block", append(mk(a)[:1536], bytes.Repeat([]byte("x"), 512)...), ""},
		{"GNU long name", func() []byte {
			e := regular(strings.Repeat("d/", 80)+"f", nil)
			e.hdr.Format = tar.FormatGNU
			return mk(e)
		}(), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := scanTar(context.Background(), bytes.NewReader(c.stream), listed, nil)
			if c.name == "good" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestIndexCheckRejects(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("signed by the wrong key"))
	errWrongKey := errors.New("signature made by a key that is not trusted")
	var gotIndex, gotSig []byte
	_, err := NewReader(bytes.NewReader(file), int64(len(file)), WithIndexCheck(func(index, sig []byte) error {
		gotIndex, gotSig = index, sig
		return errWrongKey
	}))
	if !errors.Is(err, errWrongKey) {
		t.Fatalf("open = %v, want the check's error", err)
	}
	if string(gotSig) != "signed by the wrong key" || !json.Valid(gotIndex) {
		t.Errorf("check got index %.40q and signature %q", gotIndex, gotSig)
	}
}

// TestTamper flips one byte at 200 random positions of a signed bundle, one
// flip per copy: opening, Verify or Scan must refuse every copy, and a flip
// inside an artifact's frames must be reported by Verify naming it.
func TestTamper(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("signature"))
	ref := openBytes(t, file)
	rng := rand.New(rand.NewPCG(42, 42))
	for i := range 200 {
		pos := rng.Int64N(int64(len(file)))
		bad := bytes.Clone(file)
		bad[pos] ^= byte(1 + rng.IntN(255))
		owner, inArtifact := ref.artifactAtCompressed(pos)
		r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("flip %d at %d: open error %v does not wrap ErrCorrupt", i, pos, err)
			}
			continue
		}
		verr := r.Verify(context.Background(), nil)
		serr := r.Scan(context.Background(), nil)
		r.Close()
		if verr == nil || serr == nil {
			t.Errorf("flip %d at %d (in %v): not detected: Verify %v, Scan %v", i, pos, owner.Path, verr, serr)
			continue
		}
		var ve *VerifyError
		if inArtifact && (!errors.As(verr, &ve) || len(ve.Broken) != 1 || ve.Broken[0].Artifact.Path != owner.Path) {
			t.Errorf("flip %d at %d inside %s: Verify said %v", i, pos, owner.Path, verr)
		}
	}
}

// artifactAtCompressed returns the artifact whose frames hold file offset
// pos.
func (r *Reader) artifactAtCompressed(pos int64) (Artifact, bool) {
	for _, a := range r.Index().Artifacts {
		first, _ := r.sr.FrameAt(a.Offset - 1)
		last, _ := r.sr.FrameAt(a.Offset + padded(a.Size) - 1)
		lo := r.sr.Frame(first).Offset
		hi := r.sr.Frame(last).Offset + r.sr.Frame(last).CompressedSize
		if pos >= lo && pos < hi {
			return a, true
		}
	}
	return Artifact{}, false
}

// TestDeltaOverBaseNesting: a delta listing "files/x" over a base listing
// "files/x/y" is refused when the two are layered, as one bundle listing
// both is.
func TestDeltaOverBaseNesting(t *testing.T) {
	baseFile := forge(t, forgery{entries: []rawEntry{regular("files/x/y", []byte("y"))}})
	base := openBytes(t, baseFile)
	ref := base.BaseRef()
	for _, c := range []struct{ delta, want string }{
		{"files/x", `lists "files/x" as a file and also "files/x/y" inside it`},
		{"files/x/y/z", `lists "files/x/y" as a file and also "files/x/y/z" inside it`},
		{"files/z", ""},
	} {
		delta := forge(t, forgery{entries: []rawEntry{regular(c.delta, []byte("d"))}, index: func(x *Index) { x.Base = ref }})
		r, err := NewReader(bytes.NewReader(delta), int64(len(delta)), WithBase(base))
		if c.want == "" { // the last case: closing the delta closes the base
			if err != nil {
				t.Fatalf("delta with %s: %v", c.delta, err)
			}
			r.Close()
			continue
		}
		if err == nil {
			r.Close()
			t.Fatalf("delta with %s over a base with files/x/y: opened", c.delta)
		}
		checkRefusal(t, err, c.want)
	}
}
