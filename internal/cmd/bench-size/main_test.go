package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// writeBundle writes a bundle with one incompressible blob of blobSize bytes
// and one text file of textSize bytes, and returns its path.
func writeBundle(t *testing.T, blobSize, textSize int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blob := make([]byte, blobSize)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	text := bytes.Repeat([]byte("2026-01-01T00:00:00Z INFO kubelet pod started\n"), textSize/46+1)[:textSize]
	w := bundle.NewWriter(f)
	idx := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "t", Version: "1", Platform: "linux/amd64"}
	for _, e := range []struct {
		path, kind string
		data       []byte
	}{{"blobs/sha256/x", bundle.KindBlob, blob}, {"files/log.txt", bundle.KindFile, text}} {
		got, err := w.Add(e.path, int64(len(e.data)), bytes.NewReader(e.data))
		if err != nil {
			t.Fatal(err)
		}
		idx.Artifacts = append(idx.Artifacts, got.Artifact(e.kind, e.path))
	}
	b, err := idx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(b, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunTalliesStoredBytesPerKind(t *testing.T) {
	cases := []struct {
		name               string
		blobSize, textSize int
	}{
		{"one chunk each", 100 << 10, 200 << 10},
		{"many frames", 9<<20 + 17, 5 << 20},
		{"empty file", 1 << 20, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeBundle(t, c.blobSize, c.textSize)
			var out bytes.Buffer
			if err := run(path, &out); err != nil {
				t.Fatal(err)
			}
			got := parse(t, out.String())
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			blob, file, total := got["blob"], got["file"], got["total"]
			if blob.raw != int64(c.blobSize) || file.raw != int64(c.textSize) {
				t.Errorf("raw bytes: blob %d file %d, want %d and %d", blob.raw, file.raw, c.blobSize, c.textSize)
			}
			// Random bytes cannot shrink; tar header, padding and frame
			// headers add well under 1%.
			if blob.stored < blob.raw || float64(blob.stored) > 1.01*float64(blob.raw) {
				t.Errorf("blob stored %d bytes for %d raw", blob.stored, blob.raw)
			}
			if c.textSize > 0 && file.stored*4 > file.raw {
				t.Errorf("repetitive text stored %d bytes for %d raw: not compressed", file.stored, file.raw)
			}
			if sum := blob.stored + file.stored + got["other"].stored; sum != fi.Size() || total.stored != fi.Size() {
				t.Errorf("kinds add up to %d, total says %d, file is %d bytes", sum, total.stored, fi.Size())
			}
		})
	}
}

func TestRunRefusesANonBundle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not.bundle")
	if err := os.WriteFile(path, []byte("plain text, no seek table"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(path, &bytes.Buffer{}); err == nil {
		t.Fatal("run accepted a file that is not a bundle")
	}
}

// parse reads run's "kind=K entries=N raw=N stored=N" lines.
func parse(t *testing.T, s string) map[string]tally {
	t.Helper()
	m := map[string]tally{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		var tl tally
		for k, dst := range map[string]*int64{"entries": &tl.entries, "raw": &tl.raw, "stored": &tl.stored} {
			n, err := strconv.ParseInt(kv[k], 10, 64)
			if err != nil {
				t.Fatalf("line %q: %s: %v", line, k, err)
			}
			*dst = n
		}
		m[kv["kind"]] = tl
	}
	return m
}
