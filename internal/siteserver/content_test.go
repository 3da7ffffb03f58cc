package siteserver

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// writeTestBundle packs the extracted layout dir into an (unsigned) bundle
// file with the bundle Writer and returns its path.
func writeTestBundle(t *testing.T, dir string) string {
	t.Helper()
	var paths []string
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	out := filepath.Join(t.TempDir(), "test.bundle")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bundle.NewWriter(f)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "siteserver-test", Version: "1.0", Platform: "linux/amd64"}
	for _, p := range paths {
		data := readFile(t, filepath.Join(dir, p))
		e, err := w.Add(p, int64(len(data)), bytes.NewReader(data))
		if err != nil {
			t.Fatalf("bundle: add %s: %v", p, err)
		}
		x.Artifacts = append(x.Artifacts, e.Artifact(bundleKind(p), p))
	}
	index, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(index, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func bundleKind(p string) string {
	switch {
	case strings.HasPrefix(p, "blobs/"):
		return bundle.KindBlob
	case strings.HasPrefix(p, "repos/"):
		return bundle.KindRepodata
	case strings.HasPrefix(p, "charts/"):
		return bundle.KindChart
	case strings.HasPrefix(p, "files/"):
		return bundle.KindFile
	}
	return bundle.KindLayout
}

// openTestBundle opens a bundle file for the test's duration.
func openTestBundle(t *testing.T, path string) *content.Bundle {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bc := content.NewBundle(r)
	t.Cleanup(func() { bc.Close(); r.Close() })
	return bc
}

func TestBundleContentListAndStat(t *testing.T) {
	l := newLayout(t)
	bc := openTestBundle(t, writeTestBundle(t, l.dir))
	dc, err := content.NewDir(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	for _, prefix := range []string{"", "repos/", "repos/base/", "blobs/sha256/", "charts/", "nothing/"} {
		if got, want := bc.List(prefix), dc.List(prefix); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("List(%q) = %q, the directory has %q", prefix, got, want)
		}
	}
	for _, p := range dc.List("") {
		bs, bd, bok := bc.Stat(p)
		ds, dd, dok := dc.Stat(p)
		if bs != ds || bd != dd || bok != dok {
			t.Errorf("Stat(%q): bundle %d %s %v, directory %d %s %v", p, bs, bd, bok, ds, dd, dok)
		}
	}
}

// TestCorruptBundleIsNeverServedAsGood damages the bundle file in many
// places and fetches every blob: each answer is either a failure or the
// exact bytes of the blob's digest, and the damage is noticed.
func TestCorruptBundleIsNeverServedAsGood(t *testing.T) {
	l := newLayout(t)
	path := writeTestBundle(t, l.dir)
	b := readFile(t, path)
	// Flip bytes spread over the first 90% of the file (the tail holds
	// the index and seek table, which fail the open rather than a read).
	for i := 1; i <= 16; i++ {
		b[len(b)*9/10*i/17] ^= 0x55
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rs := startServerFor(t, openTestBundle(t, path), false)
	failed := 0
	for _, d := range l.allBlobs(t) {
		if _, err := fetchBlob(rs.client, rs.url+"/v2/docker.io/library/db/blobs/"+d, d); err != nil {
			if strings.Contains(err.Error(), "got sha256:") {
				t.Errorf("served wrong bytes as good: %v", err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("16 flipped bytes in the bundle went unnoticed")
	}
	if !strings.Contains(rs.logs.String(), "level=ERROR") {
		t.Errorf("the corruption was not logged:\n%s", rs.logs.String())
	}
	t.Logf("%d blob fetches failed on the damaged bundle", failed)
}
