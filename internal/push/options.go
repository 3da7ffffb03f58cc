package push

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/factory-appliance/appliance/internal/progress"
)

// Defaults used when no option overrides them.
const (
	DefaultImageJobs = 4
	DefaultBlobJobs  = 6
)

// HarborMode says whether the target is treated as Harbor.
type HarborMode int

const (
	// HarborAuto asks GET /api/v2.0/health and treats the target as Harbor
	// when it answers like one.
	HarborAuto HarborMode = iota
	// HarborOn treats the target as Harbor whatever the health call says.
	HarborOn
	// HarborOff never calls Harbor's API.
	HarborOff
)

// Option configures Push. Options are applied after the defaults, and their
// combination is checked once all are applied.
type Option func(*options) error

type options struct {
	imageJobs, blobJobs int
	user, password      string
	auth                authn.Authenticator
	roots               *x509.CertPool
	plainHTTP           bool
	transport           http.RoundTripper
	harbor              HarborMode
	publicProjects      bool
	log                 *slog.Logger
	progressOut         io.Writer
	progressMode        progress.Mode
}

func defaultOptions() *options {
	return &options{
		imageJobs: DefaultImageJobs, blobJobs: DefaultBlobJobs,
		auth: authn.Anonymous, log: slog.New(slog.DiscardHandler),
	}
}

// WithConcurrency bounds how many images are pushed at once and how many
// blobs are uploaded at once across all images.
func WithConcurrency(images, blobs int) Option {
	return func(o *options) error {
		if images < 1 || blobs < 1 {
			return fmt.Errorf("push: concurrency must be at least 1 (images %d, blobs %d)", images, blobs)
		}
		o.imageJobs, o.blobJobs = images, blobs
		return nil
	}
}

// WithBasicAuth authenticates to the registry (and to Harbor's API) as user
// with password. The password is sent only in Authorization headers; it is
// never logged or put in an error.
func WithBasicAuth(user, password string) Option {
	return func(o *options) error {
		if user == "" {
			return errors.New("push: a password needs a user name")
		}
		o.user, o.password = user, password
		o.auth = authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
		return nil
	}
}

// WithCAFile trusts the PEM certificates in path, in addition to the
// system's roots, for the registry's TLS certificate.
func WithCAFile(path string) Option {
	return func(o *options) error {
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("push: --ca-file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("push: --ca-file %s holds no PEM certificate", path)
		}
		o.roots = roots
		return nil
	}
}

// WithPlainHTTP talks plain HTTP to the registry. Only loopback targets are
// accepted, and every use is logged as a warning.
func WithPlainHTTP() Option {
	return func(o *options) error { o.plainHTTP = true; return nil }
}

// WithTransport sets the HTTP transport under authentication (tests use it
// to observe or interrupt traffic). WithCAFile does not apply to it.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error { o.transport = t; return nil }
}

// WithHarbor sets whether the target is Harbor (default HarborAuto). For a
// Harbor, the projects the images need are created before pushing.
func WithHarbor(m HarborMode) Option {
	return func(o *options) error { o.harbor = m; return nil }
}

// WithPublicProjects makes the Harbor projects push creates public (anyone
// may pull). Default: private.
func WithPublicProjects(public bool) Option {
	return func(o *options) error { o.publicProjects = public; return nil }
}

// WithLogger receives warnings (plain HTTP, partial indexes) and debug
// messages. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.log = l; return nil }
}

// WithProgress reports "image i of N" to w in mode.
func WithProgress(w io.Writer, mode progress.Mode) Option {
	return func(o *options) error { o.progressOut, o.progressMode = w, mode; return nil }
}

// check refuses combinations of options that contradict each other.
func (o *options) check() error {
	if o.plainHTTP && o.roots != nil {
		return errors.New("push: a CA file (--ca-file) and plain HTTP (--plain-http) contradict each other")
	}
	return nil
}

// baseTransport is the transport every request goes through, before
// counting and authentication.
func (o *options) baseTransport() http.RoundTripper {
	if o.transport != nil {
		return o.transport
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = o.blobJobs + o.imageJobs
	t.DialContext = dialWriteTo((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	if o.roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
	}
	return t
}
