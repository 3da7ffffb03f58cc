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

	"github.com/factory-appliance/appliance/internal/fetch"
)

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
	guard := &fetch.Guard{Inner: o.transport, Hosts: o.insecure, Warn: func(host string) {
		o.logger.Warn("using plain HTTP to an insecure registry", "registry", host)
	}}
	return &clients{opts: o, base: guard, byKey: map[string]*http.Client{}}
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
		return fmt.Errorf("registry %s: %w (%v)", host, &fetch.InsecureError{Host: host}, err)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// url is the API URL of kind (manifests, blobs, referrers) id in repo. The
// scheme is https unless plain HTTP is allowed; the authenticated transport
// corrects it to what the handshake found.
func (c *clients) url(repo name.Repository, kind, id string) string {
	scheme := "https"
	if c.opts.insecure.PlainHTTPAllowed(repo.RegistryStr()) {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", scheme, repo.RegistryStr(), repo.RepositoryStr(), kind, id)
}
