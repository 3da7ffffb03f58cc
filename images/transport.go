package images

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/singleflight"
)

// httpGuard refuses plain-HTTP requests to hosts that are neither loopback
// nor named insecure, whoever makes them (ping, token server, redirects).
type httpGuard struct {
	inner http.RoundTripper
	opts  *options
	warn  sync.Map // hosts already warned about
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		host := req.URL.Host
		if !g.opts.plainHTTPAllowed(host) {
			return nil, insecureError(host)
		}
		if !isLoopback(req.URL.Hostname()) {
			if _, seen := g.warn.LoadOrStore(host, true); !seen {
				g.opts.logger.Warn("using plain HTTP to an insecure registry", "registry", host)
			}
		}
	}
	return g.inner.RoundTrip(req)
}

func insecureError(host string) error {
	return fmt.Errorf("registry %s over plain HTTP: %w; it is not a loopback address; if you trust the network, pass --insecure-registry %s", host, ErrInsecureRegistry, host)
}

// clients hands out one authenticated HTTP client per repository. The
// handshake (ping, token) happens once per repository, on first use, so
// work served from the cache touches no network.
type clients struct {
	opts  *options
	base  http.RoundTripper
	mu    sync.Mutex
	byKey map[string]*http.Client
	group singleflight.Group
}

func newClients(o *options) *clients {
	return &clients{opts: o, base: &httpGuard{inner: o.transport, opts: o}, byKey: map[string]*http.Client{}}
}

// get returns the client for repo, doing the handshake if needed.
func (c *clients) get(ctx context.Context, repo name.Repository) (*http.Client, error) {
	key := repo.Name()
	c.mu.Lock()
	cl, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return cl, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		auth, err := c.opts.keychain.Resolve(repo.Registry)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
		}
		scopes := []string{repo.Scope(transport.PullScope)}
		rt, err := transport.NewWithContext(ctx, repo.Registry, auth, c.base, scopes)
		if err != nil {
			return nil, explainHandshake(repo.RegistryStr(), err)
		}
		cl := &http.Client{Transport: rt}
		c.mu.Lock()
		c.byKey[key] = cl
		c.mu.Unlock()
		return cl, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*http.Client), nil
}

// explainHandshake names the way out when an HTTPS handshake met a
// plain-HTTP registry.
func explainHandshake(host string, err error) error {
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w (%v)", insecureError(host), err)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// url is the API URL of kind (manifests, blobs, referrers) id in repo. The
// scheme is https unless plain HTTP is allowed; the authenticated transport
// corrects it to what the handshake found.
func (c *clients) url(repo name.Repository, kind, id string) string {
	scheme := "https"
	if c.opts.plainHTTPAllowed(repo.RegistryStr()) {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", scheme, repo.RegistryStr(), repo.RepositoryStr(), kind, id)
}
