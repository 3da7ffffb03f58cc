package split

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/bundletest"
	"github.com/factory-appliance/appliance/internal/bundle/parts"
)

// TestSplit: the parts are at most the size, cut where a frame ends, join
// into the bundle again, and open as one bundle; the bundle is left as it
// is. A part size smaller than a frame, and a bundle split already, are
// refused.
func TestSplit(t *testing.T) {
	entries, images := bundletest.StandardEntries()
	file := bundletest.Write(t, entries, images, nil)
	dir := t.TempDir()
	whole := filepath.Join(dir, "b.bundle")
	if err := os.WriteFile(whole, file, 0o644); err != nil {
		t.Fatal(err)
	}
	r := bundletest.Open(t, file)
	var biggest int64
	ends := map[int64]bool{}
	for _, f := range r.Frames() {
		biggest = max(biggest, f.CompressedSize)
		ends[f.Offset+f.CompressedSize] = true
	}
	size := biggest + 64<<10
	base := filepath.Join(dir, "parts", "b.bundle")
	names, err := Split(whole, size, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 2 {
		t.Fatalf("split into %d parts, want at least 2", len(names))
	}
	var joined []byte
	for i, p := range names {
		if want := parts.Name(base, i+1); p != want {
			t.Errorf("part %d is %s, want %s", i, p, want)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) > size {
			t.Errorf("%s: %d bytes, over %d", p, len(b), size)
		}
		joined = append(joined, b...)
		if i < len(names)-1 && !ends[int64(len(joined))] {
			t.Errorf("%s ends at %d, not where a frame ends", p, len(joined))
		}
	}
	if !bytes.Equal(joined, file) {
		t.Fatal("the parts do not join into the bundle")
	}
	if b, err := os.ReadFile(whole); err != nil || !bytes.Equal(b, file) {
		t.Errorf("the bundle changed: %v", err)
	}
	sr, err := bundle.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	if got := sr.Parts(); len(got) != len(names) {
		t.Errorf("opened %d parts, want %d", len(got), len(names))
	}
	sr.Close()
	if _, err := Split(whole, biggest/2, filepath.Join(dir, "small", "b.bundle")); err == nil || !strings.Contains(err.Error(), "split at a larger size") {
		t.Errorf("Split at half a frame = %v, want a refusal", err)
	}
	if _, err := Split(names[0], size, filepath.Join(dir, "again", "b.bundle")); err == nil || !strings.Contains(err.Error(), "already split") {
		t.Errorf("Split of a part = %v, want a refusal", err)
	}
}
