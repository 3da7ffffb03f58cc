package bundle_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/extract"
)

// TestHostileBundlesRefusedByExtract: extract.Extract refuses the hostile
// bundles that open but must be refused when read (TestHostileBundlesRefused
// checks Open, OpenRange, Verify and Scan on the same files), and leaves no
// file behind. It lives here, with the forged files.
func TestHostileBundlesRefusedByExtract(t *testing.T) {
	for _, c := range bundle.HostileReads(t) {
		t.Run(c.Name, func(t *testing.T) {
			r, err := bundle.NewReader(bytes.NewReader(c.File), int64(len(c.File)))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer r.Close()
			dir := t.TempDir()
			bundle.CheckRefusal(t, extract.Extract(context.Background(), r, dir, nil), c.Want)
			if ents, _ := os.ReadDir(filepath.Join(dir, "files")); len(ents) != 0 {
				t.Errorf("Extract left %d files behind", len(ents))
			}
		})
	}
}
