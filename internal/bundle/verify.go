package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/factory-appliance/appliance/internal/countio"
	"github.com/factory-appliance/appliance/internal/iox"
)

// Progress is called once per artifact as it is verified, extracted or
// scanned, with the error found for it (nil when it is good). Calls are
// serialized but may come in any order.
type Progress func(a Artifact, err error)

// Verify checks every artifact listed in bundle.json: its tar header, every
// chunk digest, its sha256 and its size, by streaming it (memory: about one
// chunk per worker). Together with the checks done when the Reader was
// opened (seek table, pointer, index, and the entries tiling the tar stream
// exactly), this decompresses and checks every frame of the file.
//
// Artifacts are checked in parallel (GOMAXPROCS at a time); progress, when
// not nil, is called for each. Verify does not stop at the first broken
// artifact: it returns a *VerifyError listing each one by kind, name and
// path, or ctx's error when cancelled.
func (r *Reader) Verify(ctx context.Context, progress Progress) error {
	arts := r.Artifacts()
	work := make(chan Artifact)
	var (
		mu     sync.Mutex
		broken []*ArtifactError
		wg     sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), max(len(arts), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				err := r.verifyOne(ctx, a)
				mu.Lock()
				if err != nil && ctx.Err() == nil {
					broken = append(broken, AsArtifactError(a, err))
				}
				if progress != nil {
					progress(a, err)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, a := range arts {
		select {
		case work <- a:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(broken) > 0 {
		sort.Slice(broken, func(i, j int) bool { return broken[i].Artifact.Offset < broken[j].Artifact.Offset })
		return &VerifyError{Broken: broken}
	}
	return nil
}

func (r *Reader) verifyOne(ctx context.Context, a Artifact) error {
	rc, err := r.OpenFull(a)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, iox.ContextReader(ctx, rc))
	return err
}

// Scan reads the whole tar stream sequentially from the first frame, as
// `zstd -dc | tar -x` would, and refuses anything a bundle writer would not
// have written: entries not listed in bundle.json, duplicates, anything but
// regular files (links, devices, directories), unsafe paths, listed offsets
// or sizes that differ from where the entry really is, content that does not
// match its digest, and anything but zeros after the end-of-archive blocks.
// Truncation and appended data are refused when the Reader is opened.
// progress, when not nil, is called for each listed artifact in file order.
// Scan stops at the first problem, since the tar stream cannot be followed
// past it.
func (r *Reader) Scan(ctx context.Context, progress Progress) error {
	s, err := r.sr.NewStream(0, r.sr.Size())
	if err != nil {
		return err
	}
	defer s.Close()
	listed := make(map[string]expected, len(r.index.Artifacts)+2)
	for _, a := range r.index.Artifacts {
		listed[a.Path] = expected{Artifact: a}
	}
	listed[IndexName] = expected{Artifact: r.pointerArtifact(IndexName, r.ptr.Index), raw: true}
	if r.ptr.Signature.present() {
		listed[SignatureName] = expected{Artifact: r.pointerArtifact(SignatureName, r.ptr.Signature), raw: true}
	}
	return scanTar(ctx, iox.ContextReader(ctx, s), listed, progress)
}

func (r *Reader) pointerArtifact(name string, s span) Artifact {
	return Artifact{Kind: "index", Name: name, Path: name, Size: s.Size, Offset: s.Offset, Digest: "sha256:" + hex.EncodeToString(s.Digest[:])}
}

// expected is what scanTar expects of one entry.
type expected struct {
	Artifact
	raw bool // bundle.json or its signature: not reported to progress
}

// scanTar walks an uncompressed tar stream and checks every entry against
// listed; see Scan. It reads exactly the stream, so it is also the target of
// the tar fuzzer.
func scanTar(ctx context.Context, stream io.Reader, listed map[string]expected, progress Progress) error {
	cr := &countio.Reader{R: stream}
	tr := tar.NewReader(cr)
	seen := make(map[string]bool, len(listed))
	var end int64 // where the last entry's padding ends
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Corruptf("tar stream at offset %d: %v", cr.N, err)
		}
		end = cr.N + padded(hdr.Size)
		if err := scanEntry(tr, hdr, cr, listed, seen, progress); err != nil {
			return err
		}
	}
	if cr.N < end+tarEndSize {
		return Corruptf("the tar stream is truncated at offset %d, before its end-of-archive blocks", cr.N)
	}
	if len(seen) != len(listed) {
		return Corruptf("the tar stream ends after %d of the %d entries bundle.json and the pointer list", len(seen), len(listed))
	}
	return checkTrailingZeros(cr)
}

// scanEntry checks one entry found in the stream.
func scanEntry(tr *tar.Reader, hdr *tar.Header, cr *countio.Reader, listed map[string]expected, seen map[string]bool, progress Progress) error {
	if err := checkHeader(hdr); err != nil {
		return fmt.Errorf("tar entry at offset %d: %w", cr.N, err)
	}
	if seen[hdr.Name] {
		return Corruptf("%s appears twice in the tar stream", hdr.Name)
	}
	seen[hdr.Name] = true
	e, ok := listed[hdr.Name]
	if !ok {
		return Corruptf("tar entry %s at offset %d is not listed in %s", hdr.Name, cr.N, IndexName)
	}
	err := checkScanned(tr, hdr, cr.N, e.Artifact)
	if progress != nil && !e.raw {
		progress(e.Artifact, err)
	}
	return err
}

// checkScanned compares an entry's place, size and content with its listing.
func checkScanned(tr *tar.Reader, hdr *tar.Header, at int64, a Artifact) error {
	if at != a.Offset || hdr.Size != a.Size {
		return &ArtifactError{Artifact: a, Err: Corruptf("found at offset %d with %d bytes, listed at %d with %d", at, hdr.Size, a.Offset, a.Size)}
	}
	h := sha256.New()
	n, err := io.Copy(h, tr)
	if err != nil {
		return &ArtifactError{Artifact: a, Err: Corruptf("after %d bytes: %w", n, err)}
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != a.Digest {
		return &ArtifactError{Artifact: a, Err: fmt.Errorf("%w: content is %s, bundle.json says %s", ErrDigest, got, a.Digest)}
	}
	return nil
}

// checkTrailingZeros refuses anything but zero bytes after the tar reader
// stopped (the rest of the end-of-archive blocks).
func checkTrailingZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return Corruptf("data after the tar end-of-archive blocks")
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
