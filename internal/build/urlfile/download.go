// Package urlfile owns the stack's URL files on their way into the content
// cache: the download (plain HTTP only to loopback and hosts named
// insecure, retried by the fetch policy, bounded by the pinned size or
// MaxFileSize, checked against the pinned sha256) and the check of a
// cached file against the detached OpenPGP signature its manifest entry
// requires (verify.signature, made by a key of verify.gpgkey). Where a file
// goes in the bundle, and how a file that changed upstream is reported
// against the lock, is package build's.
package urlfile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// MaxFileSize bounds the download of a URL file whose size is not locked:
// a server that sends more fails the download, and nothing is stored. A
// locked file's download is bounded by its locked size.
var MaxFileSize int64 = 16 << 30

// Fetcher brings URL files into a content cache and checks their
// signatures. It keeps no state between calls; every field is required.
type Fetcher struct {
	Cache *cas.Store
	// Transport makes the requests, behind the plain-HTTP guard.
	Transport http.RoundTripper
	// Insecure are the hosts besides loopback that may be reached over
	// plain HTTP.
	Insecure []string
	// Stack is where verify.gpgkey files are read.
	Stack *manifest.Stack
	Log   *slog.Logger
}

// Fetch brings the file at url into the cache and returns the sha256 and
// size of its bytes. With pin.SHA256 set, the bytes must hash to it (a
// *cas.DigestError otherwise) and be pin.Size long when that is set, and a
// cached copy is used without a download; without, the file is
// downloaded, bounded by MaxFileSize, and named by what arrived. A
// download past its bound is a *TooLargeError, and nothing is stored.
func (f *Fetcher) Fetch(ctx context.Context, url string, pin lock.File) (lock.File, error) {
	what := "file " + url
	if pin.SHA256 == "" {
		var got lock.File
		err := f.Download(ctx, url, func(body io.Reader) error {
			d, n, err := f.Cache.PutNew(what, MaxFileSize, &boundedReader{r: body, max: MaxFileSize})
			got = lock.File{SHA256: strings.TrimPrefix(d, "sha256:"), Size: n}
			return err
		})
		return got, err
	}
	digest := "sha256:" + pin.SHA256
	if size, ok := f.Cache.Has(digest); ok {
		return lock.File{SHA256: pin.SHA256, Size: size}, nil
	}
	limit, size := MaxFileSize, int64(-1)
	if pin.Size > 0 {
		limit, size = pin.Size, pin.Size
	}
	err := f.Download(ctx, url, func(body io.Reader) error {
		return f.Cache.Put(what, digest, size, &boundedReader{r: body, max: limit})
	})
	got := lock.File{SHA256: pin.SHA256}
	got.Size, _ = f.Cache.Has(digest)
	return got, err
}

// TooLargeError is a download that went on past its bound.
type TooLargeError struct{ max int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the download is larger than %d bytes", e.max)
}

// boundedReader fails once more than max bytes have come through.
type boundedReader struct {
	r   io.Reader
	max int64
	n   int64
}

func (br *boundedReader) Read(p []byte) (int, error) {
	if br.n > br.max {
		return 0, &TooLargeError{br.max}
	}
	if room := br.max + 1 - br.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := br.r.Read(p)
	br.n += int64(n)
	if br.n > br.max {
		return n, &TooLargeError{br.max}
	}
	return n, err
}

// Download GETs url and hands the body to put, retrying transient
// failures by the fetch policy (put must then start over, as cas.Put and
// PutNew do). Plain HTTP goes only to loopback and insecure hosts.
func (f *Fetcher) Download(ctx context.Context, url string, put func(io.Reader) error) error {
	client := &http.Client{Transport: f.guardedTransport()}
	return fetch.Default.Do(ctx, func() error {
		body, err := fetch.Get(ctx, client, url)
		if err != nil {
			return err
		}
		defer body.Close()
		return put(body)
	})
}

// guardedTransport is Transport behind the plain-HTTP guard; each download
// has its own, which warns once per insecure host it reaches.
func (f *Fetcher) guardedTransport() http.RoundTripper {
	return &fetch.Guard{Inner: f.Transport, Hosts: fetch.NewInsecureHosts(f.Insecure...), Warn: func(host string) {
		f.Log.Warn("using plain HTTP to an insecure host", "host", host)
	}}
}
