package rpms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// Fetcher opens http(s) and file:// URLs. The zero value uses a client with
// a connection timeout and no overall timeout (package downloads may be
// long); cancel the context to stop. Plain HTTP goes only to loopback and
// to the hosts in Insecure (redirects included). It is safe for concurrent
// use; set its fields before the first Open.
type Fetcher struct {
	Client *http.Client
	// Insecure names the hosts besides loopback that may be reached over
	// plain HTTP, as HOST:PORT or as HOST for every port.
	Insecure fetch.InsecureHosts

	once    sync.Once
	guarded *http.Client
}

var defaultClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   16,
	},
}

// FetchError reports a URL that could not be read. An HTTP answer other
// than 200 is a *fetch.StatusError in Err, with its status in Status.
type FetchError struct {
	URL    string
	Status int // the HTTP status, 0 for other failures
	Err    error
}

func (e *FetchError) Error() string {
	if e.Status != 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("GET %s: %v", e.URL, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// Open returns the content at rawURL. The caller closes it.
func (f *Fetcher) Open(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &FetchError{URL: rawURL, Err: err}
	}
	switch u.Scheme {
	case "file":
		fh, err := os.Open(u.Path)
		if err != nil {
			return nil, &FetchError{URL: rawURL, Err: err}
		}
		return fh, nil
	case "http", "https":
		return f.get(ctx, rawURL)
	}
	return nil, &FetchError{URL: rawURL, Err: fmt.Errorf("unsupported URL scheme %q (use http, https or file)", u.Scheme)}
}

func (f *Fetcher) get(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	body, err := fetch.Get(ctx, f.client(), rawURL)
	var se *fetch.StatusError
	if errors.As(err, &se) {
		return nil, &FetchError{URL: rawURL, Status: se.Code, Err: err}
	}
	if err != nil {
		return nil, &FetchError{URL: rawURL, Err: err}
	}
	return body, nil
}

// client is f.Client (or the default) behind the plain-HTTP guard.
func (f *Fetcher) client() *http.Client {
	f.once.Do(func() {
		c := defaultClient
		if f.Client != nil {
			c = f.Client
		}
		guarded := *c
		guarded.Transport = &fetch.Guard{Inner: c.Transport, Hosts: f.Insecure, Warn: func(host string) {
			slog.Warn("using plain HTTP to an insecure host", "host", host)
		}}
		f.guarded = &guarded
	})
	return f.guarded
}

// LoadKeys reads OpenPGP public keys (armored or binary) from files.
func LoadKeys(paths ...string) (openpgp.EntityList, error) {
	return (&Fetcher{}).LoadKeys(context.Background(), paths...)
}

// LoadKeys reads OpenPGP public keys from files or URLs (http, https,
// file://). A reference without a scheme is a file path.
func (f *Fetcher) LoadKeys(ctx context.Context, refs ...string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, ref := range refs {
		if !strings.Contains(ref, "://") {
			ref = "file://" + absPath(ref)
		}
		rc, err := f.Open(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("gpg key: %w", err)
		}
		keys, err := rpmfile.ReadKeys(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("gpg key %s: %w", ref, err)
		}
		all = append(all, keys...)
	}
	return all, nil
}

// resolveURL joins a location href to a base URL (a directory).
func resolveURL(base, href string) (string, error) {
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	h, err := url.Parse(href)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(h).String(), nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
