package layerpipe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// chunkSums are the chunk digests bundle.json lists for data, computed
// the plain way.
func chunkSums(data []byte) []string {
	if bundle.NumChunks(int64(len(data))) == 0 {
		return nil
	}
	var out []string
	for len(data) > 0 {
		k := min(len(data), bundle.ChunkSize)
		h := bundle.NewChunkHash()
		h.Write(data[:k])
		out = append(out, bundle.ChunkDigestOf(h))
		data = data[k:]
	}
	return out
}

func TestPipeCarriesTheLayerAndItsChunks(t *testing.T) {
	for _, size := range []int{0, 100, bundle.ChunkSize, 2*bundle.ChunkSize + bundle.ChunkSize/2} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7)
		}
		p := New()
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		go p.Download(context.Background(), open, "sha256:x", int64(size))
		got, err := io.ReadAll(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, %v; want the %d written", size, len(got), err, len(data))
		}
		k := p.Known()
		if k.Digest != "sha256:x" || p.Err() != nil {
			t.Errorf("size %d: known digest %q, err %v", size, k.Digest, p.Err())
		}
		if want := chunkSums(data); !slices.Equal(k.Chunks, want) {
			t.Errorf("size %d: chunks %v, want %v", size, k.Chunks, want)
		}
	}
}

func TestPipeReportsTheDownloadsError(t *testing.T) {
	bad := errors.New("digest mismatch")
	p := New()
	go p.Download(context.Background(), func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 3*pieceSize)), errReader{bad})), nil
	}, "sha256:x", 4*pieceSize)
	if _, err := io.ReadAll(p); !errors.Is(err, bad) {
		t.Fatalf("read: %v, want %v", err, bad)
	}
	if !errors.Is(p.Err(), bad) {
		t.Errorf("Err: %v, want %v", p.Err(), bad)
	}

	p = New()
	go p.Download(context.Background(), func() (io.ReadCloser, error) { return nil, bad }, "sha256:x", 1)
	if _, err := io.ReadAll(p); !errors.Is(err, bad) {
		t.Fatalf("read after a failed open: %v, want %v", err, bad)
	}
}

func TestPipeStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Download(ctx, func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(make([]byte, (pipePieces+4)*pieceSize))), nil
		}, "sha256:x", (pipePieces+4)*pieceSize)
	}()
	cancel() // nobody reads: the download waits on a full pipe, then stops
	<-done
	p.Drain()
	if !errors.Is(p.Err(), context.Canceled) {
		t.Errorf("Err: %v, want context.Canceled", p.Err())
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
