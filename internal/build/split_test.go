package build

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/inspect"
	"github.com/factory-appliance/appliance/internal/bundle/parts"
	"github.com/factory-appliance/appliance/internal/bundle/split"
	"github.com/factory-appliance/appliance/internal/seekable"
)

// TestSplitBundle builds the demo whole and split: the parts are cut at
// frame boundaries, each is a valid zstd file for the real zstd program,
// joined they are the whole bundle byte for byte, and bundle.Open reads
// them as one file given either name. A later build under the same name
// removes what the other form left.
func TestSplitBundle(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	whole, err := Build(context.Background(), demoOptions(t, cache, filepath.Join(dir, "whole.bundle")))
	if err != nil {
		t.Fatal(err)
	}
	// The demo is small: split it in about three, at no less than its
	// largest frame.
	size := whole.Size / 3
	f, err := os.Open(whole.Path)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := seekable.NewReader(f, whole.Size)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sr.NumFrames() {
		size = max(size, sr.Frame(i).CompressedSize)
	}
	sr.Close()
	f.Close()
	defer func(m int64) { minSplit = m }(minSplit)
	minSplit = 64 << 10
	name := filepath.Join(dir, "split.bundle")
	o := demoOptions(t, cache, name)
	o.Split = size
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) < 2 {
		t.Fatalf("split into %d parts: %v", len(res.Parts), res.Parts)
	}
	var joined []byte
	for i, p := range res.Parts {
		if p != parts.Name(name, i+1) {
			t.Errorf("part %d is %s", i+1, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) > size {
			t.Errorf("%s: %d bytes, more than the split size %d", p, len(b), size)
		}
		if out, err := exec.Command("zstd", "-t", p).CombinedOutput(); err != nil {
			t.Errorf("zstd -t %s: %v\n%s", p, err, out)
		}
		joined = append(joined, b...)
	}
	w, err := os.ReadFile(whole.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(joined, w) {
		t.Fatal("the parts joined are not the whole bundle")
	}
	if _, err := os.Stat(name); err == nil {
		t.Errorf("%s exists besides its parts", name)
	}
	// split.Split of the whole bundle cuts it at the same places.
	cut, err := split.Split(whole.Path, size, filepath.Join(dir, "cut", "whole.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cut) != len(res.Parts) {
		t.Fatalf("Split made %d parts, the split build %d", len(cut), len(res.Parts))
	}
	for i := range cut {
		if fileSHA(t, cut[i]) != fileSHA(t, res.Parts[i]) {
			t.Errorf("part %d of Split differs from the split build's", i+1)
		}
	}
	for _, open := range []string{name, res.Parts[0]} {
		r, err := bundle.Open(open)
		if err != nil {
			t.Fatalf("open %s: %v", open, err)
		}
		if err := r.Verify(context.Background(), nil); err != nil {
			t.Errorf("verify %s: %v", open, err)
		}
		s, err := inspect.Inspect(r)
		if err != nil {
			t.Fatalf("inspect %s: %v", open, err)
		}
		if len(s.Parts) != len(res.Parts) || s.CompressedBytes != whole.Size {
			t.Errorf("inspect %s: parts %v, %d bytes; want %d parts, %d bytes", open, s.Parts, s.CompressedBytes, len(res.Parts), whole.Size)
		}
		r.Close()
	}
	if _, err := bundle.Open(res.Parts[1]); err == nil || !strings.Contains(err.Error(), "open its first part") {
		t.Errorf("opening part 2: err = %v, want the advice to open part 1", err)
	}
	// A missing middle part is named.
	if len(res.Parts) >= 3 {
		moved := res.Parts[1] + ".away"
		if err := os.Rename(res.Parts[1], moved); err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Open(name); err == nil || !strings.Contains(err.Error(), res.Parts[1]+" is missing") {
			t.Errorf("with part 2 missing: err = %v", err)
		}
		os.Rename(moved, res.Parts[1])
	}
	// Building it whole again under the same name removes the parts.
	o.Split = 0
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Parts {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left behind by the whole build", p)
		}
	}
	if got := fileSHA(t, name); got != fileSHA(t, whole.Path) {
		t.Error("the whole rebuild differs")
	}
	minSplit = MinSplit
	o.Split = 1 << 20
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("a 1 MiB split: err = %v", err)
	}
}
