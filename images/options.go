package images

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/factory-appliance/appliance/internal/fetch"
	imageref "github.com/factory-appliance/appliance/internal/ref"
)

// Defaults used when no option overrides them.
const (
	DefaultPlatform  = "linux/amd64"
	DefaultImageJobs = 4
	DefaultBlobJobs  = 6
	DefaultAttempts  = 5
	DefaultBackoff   = 500 * time.Millisecond
	maxBackoff       = 15 * time.Second
	dockerHubAPIHost = "index.docker.io" // where Docker Hub's API answers
)

type options struct {
	mirrors    map[string]string   // canonical source registry -> mirror host[:port]
	insecure   fetch.InsecureHosts // hosts (host or host:port) allowed over plain HTTP
	keychain   authn.Keychain
	platform   v1.Platform
	imageJobs  int
	blobJobs   int
	attempts   int
	backoff    time.Duration
	progress   Progress
	logger     *slog.Logger
	signatures bool
	allPlats   bool
	transport  http.RoundTripper
	skipLayer  func(digest string) bool
	deferLayer func(digest string) bool
}

// Option configures a Puller. Options are applied after the defaults, and
// their combination is checked once all are applied.
type Option func(*options) error

func defaultOptions() *options {
	return &options{
		mirrors:   map[string]string{},
		insecure:  fetch.InsecureHosts{},
		keychain:  authn.DefaultKeychain,
		platform:  v1.Platform{OS: "linux", Architecture: "amd64"},
		imageJobs: DefaultImageJobs,
		blobJobs:  DefaultBlobJobs,
		attempts:  DefaultAttempts,
		backoff:   DefaultBackoff,
		progress:  ProgressFunc(func(ImageProgress) {}),
		logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// WithMirror pulls images of registry source (e.g. docker.io) from mirror
// (HOST or HOST:PORT) instead: docker.io/calico/node:v3.26.4 is fetched as
// HOST:PORT/calico/node:v3.26.4 and docker.io/library/x as HOST/library/x.
// Images keep their canonical names; only the place they are fetched from
// changes. There is no fallback to the source when the mirror fails, so a
// build never reaches a registry it was told to avoid. Repeatable.
func WithMirror(source, mirror string) Option {
	return func(o *options) error {
		if strings.Contains(mirror, "://") || strings.Contains(mirror, "/") {
			return fmt.Errorf("registry mirror %q for %s: give HOST or HOST:PORT only (plain HTTP is enabled with --insecure-registry HOST)", mirror, source)
		}
		if mirror == "" || source == "" {
			return fmt.Errorf("registry mirror %s=%s: both sides must be set", source, mirror)
		}
		o.mirrors[imageref.NormalizeRegistry(source)] = mirror
		return nil
	}
}

// WithMirrors is WithMirror for every entry of m (source -> mirror).
func WithMirrors(m map[string]string) Option {
	return func(o *options) error {
		for s, t := range m {
			if err := WithMirror(s, t)(o); err != nil {
				return err
			}
		}
		return nil
	}
}

// WithInsecureRegistries allows plain HTTP to the named hosts (HOST or
// HOST:PORT; HOST covers every port): HTTPS is tried first, and certificates
// are still verified when it is used. Loopback hosts (localhost, 127.0.0.0/8,
// ::1) never need it. The first plain-HTTP request to each named host is
// logged as a warning.
func WithInsecureRegistries(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			if h == "" || strings.Contains(h, "/") {
				return fmt.Errorf("insecure registry %q: give HOST or HOST:PORT", h)
			}
			o.insecure[h] = true
		}
		return nil
	}
}

// WithKeychain sets where credentials come from (default: the docker
// config, authn.DefaultKeychain).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error { o.keychain = k; return nil }
}

// WithPlatform selects the platform (os/arch[/variant]) taken from an
// index or manifest list. Default linux/amd64.
func WithPlatform(platform string) Option {
	return func(o *options) error {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64", platform)
		}
		o.platform = *p
		return nil
	}
}

// WithConcurrency bounds how many images PullAll pulls at once and how many
// blobs are downloaded at once across all images.
func WithConcurrency(images, blobs int) Option {
	return func(o *options) error { o.imageJobs, o.blobJobs = images, blobs; return nil }
}

// WithRetry sets how many times a request is tried (attempts >= 1) and the
// first wait between tries, which doubles (with jitter) up to 15 s. Only
// transient failures are retried: 408, 429, 5xx, connection resets,
// unexpected EOFs and timeouts; never 401, 403 or 404.
func WithRetry(attempts int, initial time.Duration) Option {
	return func(o *options) error { o.attempts, o.backoff = attempts, initial; return nil }
}

// WithProgress receives per-image progress.
func WithProgress(p Progress) Option {
	return func(o *options) error { o.progress = p; return nil }
}

// WithLogger receives warnings (insecure registries, retries, platform
// mismatches). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.logger = l; return nil }
}

// WithSignatures makes PullAll also fetch each image's cosign signature tag
// (sha256-<hex>.sig) and its OCI 1.1 referrers.
func WithSignatures(on bool) Option {
	return func(o *options) error { o.signatures = on; return nil }
}

// WithAllPlatforms keeps every platform of a multi-platform image: every
// manifest its index lists, with their configs and layers, not only the
// selected platform's. A registry such as Harbor then accepts the index
// itself, so its digest (and signatures made over it) survive a push. It
// costs every platform's layers.
func WithAllPlatforms(on bool) Option {
	return func(o *options) error { o.allPlats = on; return nil }
}

// WithSkipLayers makes the puller leave out the image layers (blobs with a
// layer media type) for which skip returns true: for a delta bundle, whose
// base already holds them. Configs, manifests and other blobs (signature
// payloads, charts) are always fetched, since the pull and its checks read
// them. skip is called from several goroutines.
func WithSkipLayers(skip func(digest string) bool) Option {
	return func(o *options) error { o.skipLayer = skip; return nil }
}

// WithDeferLayers makes the puller leave the image layers for which
// deferred returns true, and that are not in the cache, to its caller: Pull
// returns without downloading them (they count as deferred in its
// progress), and the caller streams each with OpenBlob, for instance
// straight into a bundle, so that a layer is written once. deferred is
// called from several goroutines.
func WithDeferLayers(deferred func(digest string) bool) Option {
	return func(o *options) error { o.deferLayer = deferred; return nil }
}

// WithTransport sets the HTTP transport under authentication (proxies,
// extra CAs, dialing). The plain-HTTP guard always wraps it.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error { o.transport = t; return nil }
}

func makeOptions(opts []Option) (*options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, o.check()
}

func (o *options) check() error {
	if o.imageJobs < 1 || o.blobJobs < 1 {
		return fmt.Errorf("concurrency must be at least 1 image and 1 blob, got %d and %d", o.imageJobs, o.blobJobs)
	}
	if o.attempts < 1 || o.backoff < 0 {
		return fmt.Errorf("retry: attempts must be >= 1 and backoff >= 0, got %d and %v", o.attempts, o.backoff)
	}
	for src, m := range o.mirrors {
		if imageref.NormalizeRegistry(m) == src {
			return fmt.Errorf("registry mirror for %s points at itself", src)
		}
	}
	if o.keychain == nil || o.progress == nil || o.logger == nil {
		return fmt.Errorf("keychain, progress and logger must not be nil")
	}
	if o.transport == nil {
		o.transport = defaultTransport()
	}
	return nil
}

func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = 16
	return t
}
