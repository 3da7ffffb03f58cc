package siteserver

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// recordingContent records which entries a Content user touches.
type recordingContent struct {
	content.Content
	mu      sync.Mutex
	touched []string
}

func (r *recordingContent) note(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.touched, p) {
		r.touched = append(r.touched, p)
	}
}

func (r *recordingContent) Stat(p string) (int64, string, bool) {
	r.note(p)
	return r.Content.Stat(p)
}

func (r *recordingContent) Open(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	r.note(p)
	return r.Content.Open(ctx, p, off, n)
}

// TestStartupReadsOnlyTheIndex checks the start-up contract: New reads
// index.json and no blob, so its cost does not grow with the bundle.
func TestStartupReadsOnlyTheIndex(t *testing.T) {
	l := newLayout(t)
	for backend, src := range backends(t, l) {
		t.Run(backend, func(t *testing.T) { testStartup(t, l, src) })
	}
}

func testStartup(t *testing.T, l *testLayout, src content.Content) {
	rec := &recordingContent{Content: src}
	srv, err := New(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.touched, []string{content.IndexPath}) {
		t.Errorf("start-up touched %q, want only %s", rec.touched, content.IndexPath)
	}
	if got := len(srv.Repositories()); got != len(l.images) {
		t.Errorf("%d repositories, want %d", got, len(l.images))
	}
}

func TestNewRefusesAnInconsistentIndex(t *testing.T) {
	l := newLayout(t)
	idx := string(readFile(t, filepath.Join(l.dir, content.IndexPath)))
	// Name the second image like the first: one repo:tag, two manifests.
	first, second := l.images[0], l.images[1]
	idx = strings.ReplaceAll(idx, `"`+second.ref()+`"`, `"`+first.ref()+`"`)
	if err := os.WriteFile(filepath.Join(l.dir, content.IndexPath), []byte(idx), 0o644); err != nil {
		t.Fatal(err)
	}
	dc, err := content.NewDir(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if _, err := New(context.Background(), dc); err == nil {
		t.Fatal("New accepted an index.json naming two manifests with one tag")
	}
}
