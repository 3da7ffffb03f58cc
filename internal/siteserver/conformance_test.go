package siteserver

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestConformance runs the OCI distribution-spec conformance suite (pull,
// tag list and referrers, with pre-loaded content) against the server, via
// testdata/conformance.sh. The first run builds the suite, which needs the
// Go module proxy; later runs reuse the cached binary.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the conformance suite builds and runs a separate program")
	}
	l := newLayout(t)
	for backend, src := range backends(t, l) {
		t.Run(backend, func(t *testing.T) { testConformance(t, l, startServerFor(t, src, false)) })
	}
}

func testConformance(t *testing.T, l *testLayout, rs *running) {
	app := l.image(t, "registry.factory.example/library/app")
	var m v1.Manifest
	if err := json.Unmarshal(readFile(t, blobPath(l.dir, app.digest)), &m); err != nil {
		t.Fatal(err)
	}
	blobs := []string{m.Config.Digest.String(), l.bigBlob}
	for _, d := range m.Layers {
		blobs = append(blobs, d.Digest.String())
	}
	results := t.TempDir()
	cmd := exec.Command("sh", filepath.Join("testdata", "conformance.sh"), rs.addr, app.repo, app.tag,
		app.digest, strings.Join(blobs, " "), l.subject, results)
	out, err := cmd.CombinedOutput()
	summary := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "conformance: ") {
			summary = line
		}
	}
	if err != nil {
		t.Fatalf("conformance suite failed: %v\n%s", err, out)
	}
	t.Log(summary)
}
