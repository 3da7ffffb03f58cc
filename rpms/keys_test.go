package rpms

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

func TestLoadKeys(t *testing.T) {
	url := serveFixture(t, fixtureDir)
	f := &Fetcher{}
	keys, err := f.LoadKeys(context.Background(), url+"/keys/RPM-GPG-KEY-fixture", filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-other"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("loaded %d keys, want 2", len(keys))
	}
	// Two armored blocks in one file, as RPM-GPG-KEY files sometimes are.
	a, _ := os.ReadFile(filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-fixture"))
	b, _ := os.ReadFile(filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-other"))
	both, err := rpmfile.ReadKeys(bytes.NewReader(append(append(a, '\n'), b...)))
	if err != nil || len(both) != 2 {
		t.Fatalf("two armored blocks: %d keys, %v", len(both), err)
	}
	if _, err := f.LoadKeys(context.Background(), url+"/keys/missing"); err == nil {
		t.Error("a missing key URL loaded")
	}
	if _, err := rpmfile.ReadKeys(bytes.NewReader([]byte("not a key"))); err == nil {
		t.Error("garbage parsed as a key")
	}
}
