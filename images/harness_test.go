package images

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/google/go-containerregistry/pkg/authn"
)

// The package's tests share one docker-registry holding the demo set,
// started on first use and stopped by TestMain.
var (
	regOnce   sync.Once
	regShared *fixture.Registry
	regPushed map[string]fixture.Pushed // by repo:tag
	regErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if regShared != nil {
		regShared.Close()
	}
	os.Exit(code)
}

// demoRegistry returns the shared registry and the pushed demo images.
func demoRegistry(t *testing.T) (*fixture.Registry, map[string]fixture.Pushed) {
	t.Helper()
	regOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		regShared, regErr = fixture.StartRegistry(ctx)
		if regErr != nil {
			return
		}
		var pushed []fixture.Pushed
		pushed, regErr = fixture.PushDemoSet(ctx, regShared.Addr())
		regPushed = map[string]fixture.Pushed{}
		for _, p := range pushed {
			regPushed[p.Repo+":"+p.Tag] = p
		}
	})
	if regErr != nil {
		t.Fatalf("demo registry: %v", regErr)
	}
	return regShared, regPushed
}

// proxy is a counting, fault-injecting reverse proxy on loopback in front
// of the registry.
type proxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	counts map[string]int // "GET /v2/<repo>/blobs/<digest>" -> requests
	// intercept, when set, may answer a request itself (return true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// rewrite, when set, may change the registry's answers.
	rewrite func(resp *http.Response)
}

func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // cancelled requests are expected in tests
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		f := p.rewrite
		p.mu.Unlock()
		if f != nil {
			f(resp)
		}
		return nil
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method+" "+r.URL.Path]++
		hook := p.intercept
		p.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) setRewrite(f func(resp *http.Response)) {
	p.mu.Lock()
	p.rewrite = f
	p.mu.Unlock()
}

func (p *proxy) addr() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *proxy) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	p.intercept = f
	p.mu.Unlock()
}

// blobGets counts GETs of blobs, per digest.
func (p *proxy) blobGets() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, n := range p.counts {
		if strings.HasPrefix(k, "GET ") && strings.Contains(k, "/blobs/") {
			out[k[strings.LastIndex(k, "/")+1:]] += n
		}
	}
	return out
}

func (p *proxy) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[key]
}

func (p *proxy) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

func (p *proxy) reset() {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.mu.Unlock()
}

// newCache is an empty content cache in a test directory.
func newCache(t *testing.T) *cas.Store {
	t.Helper()
	s, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestPuller makes a Puller with fast retries and a keychain that does
// not read the machine's docker config.
func newTestPuller(t *testing.T, cache *cas.Store, opts ...Option) *Puller {
	t.Helper()
	base := []Option{WithRetry(3, 5*time.Millisecond), WithKeychain(authn.NewMultiKeychain())}
	p, err := NewPuller(cache, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ref(addr, repoTag string) string { return fmt.Sprintf("%s/%s", addr, repoTag) }
