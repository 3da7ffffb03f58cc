package bundle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/bundletest"
	"github.com/factory-appliance/appliance/internal/bundle/split"
)

// splitTestBundle writes the standard bundle to dir/b.bundle, splits it
// into at least three parts in dir/parts, and returns the parts' base name
// and part names.
func splitTestBundle(t *testing.T) (string, []string) {
	t.Helper()
	entries, images := bundletest.StandardEntries()
	more := bundletest.RandomBytes(3, 6<<20)
	entries = append(entries, bundletest.Entry{Kind: bundle.KindBlob, Name: bundletest.Sha(more), Path: bundletest.BlobPath(more), Data: more})
	bundletest.SortEntries(entries)
	file := bundletest.Write(t, entries, images, nil)
	dir := t.TempDir()
	whole := filepath.Join(dir, "b.bundle")
	if err := os.WriteFile(whole, file, 0o644); err != nil {
		t.Fatal(err)
	}
	r := bundletest.Open(t, file)
	var biggest int64
	for _, f := range r.Frames() {
		biggest = max(biggest, f.CompressedSize)
	}
	base := filepath.Join(dir, "parts", "b.bundle")
	parts, err := split.Split(whole, biggest+64<<10, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 4 {
		t.Fatalf("split into %d parts, want at least 4", len(parts))
	}
	return base, parts
}

// TestMissingPartsNamed: a split bundle with its first part, its last part,
// or parts in the middle missing, or a part cut short, is refused with the
// name of what is missing and how to fix it, whichever name it is opened by.
func TestMissingPartsNamed(t *testing.T) {
	base, parts := splitTestBundle(t)
	last := len(parts) - 1
	for _, name := range []string{base, parts[0]} {
		r, err := bundle.Open(name)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		r.Close()
	}
	away := func(t *testing.T, idx ...int) {
		t.Helper()
		for _, i := range idx {
			if err := os.Rename(parts[i], parts[i]+".away"); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			for _, i := range idx {
				os.Rename(parts[i]+".away", parts[i])
			}
		})
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T)
		opens   []string // names to open; all must be refused
		want    []string
		notWant string
	}{
		{"first part", func(t *testing.T) { away(t, 0) }, []string{base, parts[0], parts[1]},
			[]string{"its first part " + parts[0] + " is missing", "found " + parts[1], "copy every part"}, ""},
		{"last part", func(t *testing.T) { away(t, last) }, []string{base, parts[0]},
			[]string{parts[last-1] + " does not end with the bundle's seek table", "part " + parts[last] + " (and any after it) is missing", "copy every part whole"}, ""},
		{"last two parts", func(t *testing.T) { away(t, last-1, last) }, []string{base, parts[0]},
			[]string{"part " + parts[last-1] + " (and any after it) is missing"}, ""},
		{"all but the first", func(t *testing.T) {
			idx := []int{}
			for i := 1; i <= last; i++ {
				idx = append(idx, i)
			}
			away(t, idx...)
		}, []string{base, parts[0]}, []string{"part " + parts[1] + " (and any after it) is missing"}, ""},
		{"a middle part", func(t *testing.T) { away(t, 1) }, []string{base, parts[0]},
			[]string{"part " + parts[1] + " is missing", "copy every part"}, ""},
		{"two middle parts", func(t *testing.T) { away(t, 1, 2) }, []string{base, parts[0]},
			[]string{"parts " + parts[1] + ", " + parts[2] + " are missing"}, ""},
		{"a part cut short", func(t *testing.T) {
			data, err := os.ReadFile(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(parts[1], data[:len(data)-100], 0o644)
			t.Cleanup(func() { os.WriteFile(parts[1], data, 0o644) })
		}, []string{base, parts[0]}, []string{"check that each was copied whole"}, "is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.setup(t)
			for _, name := range c.opens {
				r, err := bundle.Open(name)
				if err == nil {
					r.Close()
					t.Fatalf("open %s: opened", name)
				}
				t.Logf("open %s: %v", filepath.Base(name), err)
				for _, want := range c.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("open %s: error %q does not say %q", name, err, want)
					}
				}
				if c.notWant != "" && strings.Contains(err.Error(), c.notWant) {
					t.Errorf("open %s: error %q says %q", name, err, c.notWant)
				}
			}
		})
	}
}
