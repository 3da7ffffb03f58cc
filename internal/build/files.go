package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/manifest"
)

// entry is one file the bundle will hold: where, what, and how to read it.
type entry struct {
	path        string
	digest      string // the content's digest when known; the writer checks it
	kind        string
	name        string
	component   string
	mediaType   string
	size        int64
	annotations map[string]string
	open        func() (io.ReadCloser, error)
}

// fileEntry is a stack file: local in the manifest's tree, or downloaded
// into the cache.
type fileEntry = entry

// fetchFiles checks every local file and downloads every URL file into the
// cache (verified against its sha256). Files go to files/<component>/<name>;
// two files of one component with the same name are an error.
func (b *builder) fetchFiles(ctx context.Context) error {
	seen := map[string]manifest.File{}
	var errs []error
	for _, f := range b.o.Stack.Files() {
		p := path.Join("files", f.Component, f.Name())
		if first, dup := seen[p]; dup {
			errs = append(errs, fmt.Errorf("%s: file %s has the same name as the file at %s in component %s; rename one of them", f.Pos, f.Name(), first.Pos, f.Component))
			continue
		}
		seen[p] = f
		e, err := b.fileEntry(ctx, p, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.files = append(b.files, e)
	}
	return errors.Join(errs...)
}

func (b *builder) fileEntry(ctx context.Context, p string, f manifest.File) (entry, error) {
	e := entry{path: p, kind: bundle.KindFile, name: f.Name(), component: f.Component}
	if f.Template {
		e.annotations = map[string]string{bundle.AnnotationTemplate: "true"}
	}
	if f.URL != "" {
		e.annotations = withAnnotation(e.annotations, bundle.AnnotationSource, f.URL)
		return b.urlFile(ctx, e, f)
	}
	return b.localFile(e, f)
}

func withAnnotation(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func (b *builder) localFile(e entry, f manifest.File) (entry, error) {
	fi, err := fs.Stat(b.o.Stack.FS, f.Path)
	if err != nil {
		return e, fmt.Errorf("%s: file %s: %w", f.Pos, f.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return e, fmt.Errorf("%s: file %s is not a regular file", f.Pos, f.Path)
	}
	e.size = fi.Size()
	if f.SHA256 != "" {
		e.digest = "sha256:" + f.SHA256
	}
	e.open = func() (io.ReadCloser, error) { return b.o.Stack.Open(f.Path) }
	return e, nil
}

// urlFile downloads a URL file into the cache unless it is there already.
// The bytes must hash to the manifest's sha256, or nothing is stored.
func (b *builder) urlFile(ctx context.Context, e entry, f manifest.File) (entry, error) {
	digest := "sha256:" + f.SHA256
	e.digest = digest
	if size, ok := b.cache.Has(digest); ok {
		e.size = size
		e.open = b.cachedOpener(digest)
		return e, nil
	}
	if err := b.download(ctx, f.URL, digest); err != nil {
		return e, fmt.Errorf("%s: file %s: %w", f.Pos, f.URL, err)
	}
	size, _ := b.cache.Has(digest)
	e.size = size
	e.open = b.cachedOpener(digest)
	return e, nil
}

// cachedOpener opens a cached object without hashing it: the bundle writer
// hashes every byte it writes, and add compares that with the entry's digest,
// so hashing here too would only double the cost. Entries that use it must
// set digest.
func (b *builder) cachedOpener(digest string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return b.cache.OpenUnverified(digest) }
}

// download fetches url into the cache under digest, retrying transient
// failures.
func (b *builder) download(ctx context.Context, url, digest string) error {
	client := &http.Client{Transport: b.transport()}
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		if err = b.downloadOnce(ctx, client, url, digest); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 250 * time.Millisecond):
		}
	}
	return err
}

type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("HTTP %d", e.code) }

// transient reports whether a download may succeed when tried again: a
// server error or a broken connection, never a wrong digest or a 404.
func transient(err error) bool {
	var se statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	}
	var de *cas.DigestError
	return !errors.As(err, &de) && !errors.Is(err, context.Canceled)
}

func (b *builder) downloadOnce(ctx context.Context, client *http.Client, url, digest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError{resp.StatusCode}
	}
	return b.cache.Put("file "+url, digest, -1, resp.Body)
}
