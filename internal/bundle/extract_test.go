package bundle

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExtract(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("sig"))
	r := openBytes(t, file)
	dir := filepath.Join(t.TempDir(), "out")
	var n int
	if err := Extract(context.Background(), r, dir, func(a Artifact, err error) {
		if err != nil {
			t.Errorf("%s: %v", a, err)
		}
		n++
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(entries) {
		t.Errorf("progress called %d times, want %d", n, len(entries))
	}
	want := map[string][]byte{IndexName: r.IndexBytes(), SignatureName: []byte("sig")}
	for _, e := range entries {
		want[e.path] = e.data
	}
	checkTree(t, dir, want)
	// Idempotent: a second run replaces the files whole.
	if err := Extract(context.Background(), r, dir, nil); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dir, want)
}

// TestExtractStaysInside plants symlinks in the target directory that point
// outside it: Extract must fail rather than write through them.
func TestExtractStaysInside(t *testing.T) {
	entries, images := standardEntries()
	r := openBytes(t, writeBundle(t, entries, images, nil))
	for _, plant := range []string{"blobs", "files", "oci-layout"} {
		t.Run(plant, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			dir := filepath.Join(base, "dir")
			os.Mkdir(outside, 0o755)
			os.Mkdir(dir, 0o755)
			target := outside
			if plant == "oci-layout" {
				target = filepath.Join(outside, "victim")
			}
			if err := os.Symlink(target, filepath.Join(dir, plant)); err != nil {
				t.Fatal(err)
			}
			err := Extract(context.Background(), r, dir, nil)
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Fatalf("Extract wrote %d entries outside its directory (err %v)", len(left), err)
			}
			if plant != "oci-layout" && err == nil {
				t.Fatal("Extract followed a symlink out of its directory without an error")
			}
		})
	}
}

func TestExtractRefusesCorruptArtifact(t *testing.T) {
	entries := []testEntry{{KindFile, "a", "files/a", []byte("good")}, {KindFile, "b", "files/b", randomBytes(3, 100_000)}}
	file := writeBundle(t, entries, nil, nil)
	ref := openBytes(t, file)
	b, _ := ref.Lookup("files/b")
	first, _ := ref.sr.FrameAt(b.Offset)
	f := ref.sr.Frame(first)
	file[f.Offset+f.CompressedSize/2] ^= 0xff // inside files/b's raw block
	r := openBytes(t, file)
	dir := t.TempDir()
	err := Extract(context.Background(), r, dir, nil)
	var ae *ArtifactError
	if !errors.As(err, &ae) || ae.Artifact.Path != "files/b" {
		t.Fatalf("Extract = %v, want an error naming files/b", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "files/b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("files/b exists after a failed extraction: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "files/b"+tmpSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is left behind: %v", err)
	}
}
