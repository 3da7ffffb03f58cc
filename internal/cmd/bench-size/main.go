// Command bench-size tells how many bytes of a bundle file each kind of
// artifact takes, for `make bench`'s size check:
//
//	bench-size BUNDLE
//
// It prints one line per kind, "kind=K entries=N raw=BYTES stored=BYTES",
// then "kind=other ..." for the rest of the file (end-of-archive blocks,
// bundle.json and its signature, the pointer and the seek table) and
// "kind=total ...". raw is the sum of the entries' sizes; stored is the sum
// of the compressed frames that carry the entries, tar headers and padding
// included. Every data frame belongs to exactly one entry, because a frame
// starts at every tar header; a frame is counted for the entry whose data
// ends after the frame starts. Only the index and the seek table are read.
// bundle.json is not authenticated here: this is a measuring tool.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/seekable"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-size BUNDLE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-size:", err)
		os.Exit(1)
	}
}

type tally struct{ entries, raw, stored int64 }

func run(path string, w io.Writer) error {
	br, err := bundle.Open(path)
	if err != nil {
		return err
	}
	defer br.Close()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sr, err := seekable.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: seek table: %w", path, err)
	}
	defer sr.Close()
	arts := append([]bundle.Artifact(nil), br.Index().Artifacts...)
	sort.Slice(arts, func(i, j int) bool { return arts[i].Offset < arts[j].Offset })
	kinds := tallyKinds(arts, sr)
	report(w, kinds, st.Size())
	return nil
}

// tallyKinds sums raw and stored bytes per artifact kind; frames that carry
// no listed entry go to "other".
func tallyKinds(arts []bundle.Artifact, sr *seekable.Reader) map[string]*tally {
	kinds := map[string]*tally{"other": {}}
	for _, a := range arts {
		t := kinds[a.Kind]
		if t == nil {
			t = &tally{}
			kinds[a.Kind] = t
		}
		t.entries++
		t.raw += a.Size
	}
	for i := range sr.NumFrames() {
		fr := sr.Frame(i)
		kind := "other"
		if fr.UncompressedSize > 0 {
			if a, ok := owner(arts, fr.UncompressedOffset); ok {
				kind = a.Kind
			}
		}
		kinds[kind].stored += fr.CompressedSize
	}
	return kinds
}

// owner is the first entry (arts sorted by data offset) whose padded data
// ends after off.
func owner(arts []bundle.Artifact, off int64) (bundle.Artifact, bool) {
	i := sort.Search(len(arts), func(i int) bool {
		a := arts[i]
		return a.Offset+(a.Size+511)/512*512 > off
	})
	if i == len(arts) {
		return bundle.Artifact{}, false
	}
	return arts[i], true
}

func report(w io.Writer, kinds map[string]*tally, fileSize int64) {
	names := make([]string, 0, len(kinds))
	var stored int64
	for k, t := range kinds {
		names = append(names, k)
		stored += t.stored
	}
	sort.Strings(names)
	var raw, entries int64
	for _, k := range names {
		t := kinds[k]
		if k == "other" {
			t.stored += fileSize - stored // skippable frames not in the seek table
		}
		raw += t.raw
		entries += t.entries
		fmt.Fprintf(w, "kind=%s entries=%d raw=%d stored=%d\n", k, t.entries, t.raw, t.stored)
	}
	fmt.Fprintf(w, "kind=total entries=%d raw=%d stored=%d\n", entries, raw, fileSize)
}
