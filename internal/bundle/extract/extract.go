// Package extract writes a bundle out as a directory tree (`bundle
// extract`): the tree `zstd -dc | tar -x` gives, but with every file
// verified against its digests before it gets its name, and no write
// outside the directory. It reads through a *bundle.Reader.
package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/iox"
)

// tmpSuffix marks a file being extracted; it is renamed into place only
// once its content has been verified.
const tmpSuffix = ".extracting"

// Extract writes every entry of the bundle (bundle.json and its signature
// included) into dir, creating dir if needed. It gives the same tree as
// `zstd -dc | tar -x`, but safely:
//
//   - every path passed bundle.CheckPath when the bundle was opened (no
//     absolute paths, no "..") and every file is created through an
//     os.Root, so no write ever lands outside dir, even through symlinks
//     already in dir;
//   - only regular files are written (the Reader refuses links and devices);
//   - each file is written to a temporary name, synced, and renamed into
//     place only after its content matched its digests, so a file with a
//     final name is always verified.
//
// Extract stops at the first error. Re-running it after a failure is safe:
// files are replaced whole. progress, when not nil, is called after each
// artifact.
func Extract(ctx context.Context, r *bundle.Reader, dir string, progress bundle.Progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, a := range r.Artifacts() {
		err := extractOne(ctx, root, a.Path, func() (io.ReadCloser, error) { return r.OpenFull(a) })
		if progress != nil {
			progress(a, err)
		}
		if err != nil {
			return bundle.AsArtifactError(a, err)
		}
	}
	if err := writeVerified(root, bundle.IndexName, bytes.NewReader(r.IndexBytes())); err != nil {
		return err
	}
	if sig := r.Signature(); sig != nil {
		return writeVerified(root, bundle.SignatureName, bytes.NewReader(sig))
	}
	return nil
}

// extractOne writes one artifact under root.
func extractOne(ctx context.Context, root *os.Root, name string, open func() (io.ReadCloser, error)) error {
	if err := bundle.CheckPath(name); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeVerified(root, name, iox.ContextReader(ctx, rc))
}

// writeVerified copies src to a temporary file next to name and renames it
// to name when src ended without error (a verified reader reports a digest
// mismatch as an error instead of io.EOF).
func writeVerified(root *os.Root, name string, src io.Reader) (err error) {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
	}
	tmp := name + tmpSuffix
	if err := root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extracting %s: removing a stale %s: %w", name, tmp, err)
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = root.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, src); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	if err = root.Rename(tmp, name); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return nil
}
