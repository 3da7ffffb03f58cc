package extract

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/bundletest"
	"github.com/factory-appliance/appliance/internal/seekable"
)

func TestExtract(t *testing.T) {
	entries, images := bundletest.StandardEntries()
	file := bundletest.Write(t, entries, images, []byte("sig"))
	r := bundletest.Open(t, file)
	dir := filepath.Join(t.TempDir(), "out")
	var n int
	if err := Extract(context.Background(), r, dir, func(a bundle.Artifact, err error) {
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
	want := map[string][]byte{bundle.IndexName: r.IndexBytes(), bundle.SignatureName: []byte("sig")}
	for _, e := range entries {
		want[e.Path] = e.Data
	}
	bundletest.CheckTree(t, dir, want)
	// Idempotent: a second run replaces the files whole.
	if err := Extract(context.Background(), r, dir, nil); err != nil {
		t.Fatal(err)
	}
	bundletest.CheckTree(t, dir, want)
}

// TestExtractStaysInside plants symlinks in the target directory that point
// outside it: Extract must fail rather than write through them.
func TestExtractStaysInside(t *testing.T) {
	entries, images := bundletest.StandardEntries()
	r := bundletest.Open(t, bundletest.Write(t, entries, images, nil))
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
	entries := []bundletest.Entry{{Kind: bundle.KindFile, Name: "a", Path: "files/a", Data: []byte("good")}, {Kind: bundle.KindFile, Name: "b", Path: "files/b", Data: bundletest.RandomBytes(3, 100_000)}}
	file := bundletest.Write(t, entries, nil, nil)
	ref := bundletest.Open(t, file)
	b, _ := ref.Lookup("files/b")
	var f seekable.Frame
	for _, f = range ref.Frames() {
		if f.UncompressedOffset+f.UncompressedSize > b.Offset {
			break // the frame holding files/b's first byte
		}
	}
	file[f.Offset+f.CompressedSize/2] ^= 0xff // inside files/b's raw block
	r := bundletest.Open(t, file)
	dir := t.TempDir()
	err := Extract(context.Background(), r, dir, nil)
	var ae *bundle.ArtifactError
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
