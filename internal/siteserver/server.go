// Package siteserver is the site's seed server: a read-only OCI distribution
// registry under /v2/, the bundle's yum repositories under /repos/, its files
// and charts under /files/ and /charts/, and the site CA certificate at
// /ca.crt, all served straight from bundle content.
//
// Everything it serves comes through the content.Content interface
// (internal/siteserver/content), which verifies bytes against their digests
// while they stream. A response whose bytes fail verification is never
// completed: small content is checked before the status line is sent (the
// client gets a 500), and large content is cut off before its last bytes
// (the connection is aborted), so a client never takes a corrupt body for a
// good one. Who may read is internal/siteserver/access's to decide.
package siteserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// Server is the seed server's http.Handler. It is safe for concurrent use.
type Server struct {
	content    content.Content
	catalog    *catalog
	manifests  *manifests
	log        *slog.Logger
	caCert     []byte
	writeStall time.Duration
	policy     access.Policy // set by WithAccess
	access     *access.Guard // who may read

	minWriteBytes int // with writeStall, see WithMinWriteRate
	failedLog     *logLimiter
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithCACert sets the PEM certificate served at /ca.crt.
func WithCACert(pem []byte) Option { return func(s *Server) { s.caCert = pem } }

// WithAccess sets who may read the seed (default: loopback clients only).
// Refused requests get 403 and are counted (Server.Refused), not logged one
// by one: the first is logged, then at most one summary line per
// SummaryEvery.
func WithAccess(p access.Policy) Option { return func(s *Server) { s.policy = p } }

// New returns a server for content. It reads index.json, and nothing else,
// so its cost does not depend on the number or size of blobs.
func New(ctx context.Context, c content.Content, opts ...Option) (*Server, error) {
	s := &Server{content: c, log: slog.New(slog.DiscardHandler), writeStall: DefaultWriteStall, minWriteBytes: DefaultMinWriteBytes}
	for _, o := range opts {
		o(s)
	}
	s.access = access.New(s.policy, s.log, deny)
	s.failedLog = newLogLimiter(s.log, failedLogBurst, failedLogEvery)
	cat, err := loadCatalog(ctx, c)
	if err != nil {
		return nil, err
	}
	s.catalog = cat
	s.manifests = newManifests(c, s.log)
	return s, nil
}

// Repositories returns the names of the repositories served, sorted.
func (s *Server) Repositories() []string { return append([]string(nil), s.catalog.names...) }

// Refused returns how many requests the server refused, by reason.
func (s *Server) Refused() access.Refusals { return s.access.Refused() }

// AccessSummary describes, in one line, who may read the seed.
func (s *Server) AccessSummary() string { return s.access.Summary() }

// deny answers a request the access policy refused: 403, in the
// distribution spec's error format under /v2/, as plain text elsewhere.
func deny(w http.ResponseWriter, r *http.Request, msg string) {
	if p := r.URL.Path; p == "/v2" || strings.HasPrefix(p, "/v2/") {
		writeError(w, r, http.StatusForbidden, "DENIED", msg)
	} else {
		http.Error(w, msg, http.StatusForbidden)
	}
}

// ServeHTTP routes a request and logs one line for it: at info level when it
// failed, at debug level otherwise; failures the client caused (4xx, or a
// response cut short) are logged at info level only up to a rate (see
// logLimiter), and counted beyond it. Request headers are never logged. A
// client the access policy refuses gets 403 and is counted, not logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.access.Admit(w, r) {
		return
	}
	rec := &recorder{ResponseWriter: s.minRate(w), status: http.StatusOK}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	start := time.Now()
	defer func() {
		v := recover()
		s.logRequest(r, rec, time.Since(start), v != nil)
		if v != nil {
			panic(v)
		}
	}()
	s.route(rec, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		s.serveRegistry(w, r)
	case p == "/ca.crt":
		s.serveCACert(w, r)
	default:
		for _, t := range fileTrees {
			if strings.HasPrefix(p, t) || p == strings.TrimSuffix(t, "/") {
				s.serveFile(w, r)
				return
			}
		}
		http.NotFound(w, r)
	}
}

func (s *Server) logRequest(r *http.Request, rec *recorder, d time.Duration, aborted bool) {
	level := slog.LevelDebug
	if rec.status >= 400 || aborted {
		level = slog.LevelInfo
		if (rec.status < 500 || aborted) && !s.failedLog.allow() {
			level = slog.LevelDebug
		}
	}
	s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
		"query", r.URL.RawQuery, "status", rec.status, "bytes", rec.bytes,
		"aborted", aborted, "duration", d.Round(time.Microsecond), "remote", r.RemoteAddr)
}

// recorder notes the status and body size of a response.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// MemoryLimit is the soft limit on the Go heap that SetMemoryLimit sets for
// a process whose main job is serving: with it the garbage collector keeps
// the resident size of a server under load (64 clients pulling large
// layers) well below 300 MiB instead of letting freed chunk buffers pile up
// between collections. It is what the content budgets add up to: chunk
// reads in flight, chunks held for slow writes, and the verified-chunk
// cache (sized by the machine).
func MemoryLimit() int64 {
	return content.ReadBudget + content.HoldBudget + content.ChunkCacheSize()
}

// SetMemoryLimit sets the process's soft memory limit to MemoryLimit() unless
// the GOMEMLIMIT environment variable sets one. It changes a process-wide
// setting, so only a command that runs the server as its main job (deploy
// serve) should call it.
func SetMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit())
	}
}

// shutdownGrace is how long Serve waits for requests in flight after its
// context is done.
const shutdownGrace = 30 * time.Second

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets requests in flight finish for up to
// 30 s, and returns nil. With tlsConf nil it serves plain HTTP.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config) error {
	tlsConf, err := s.access.TLSConfig(tlsConf)
	if err != nil {
		return err
	}
	defer s.access.Flush() // the refusals not yet logged
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConf == nil {
			errc <- hs.Serve(ln)
			return
		}
		hs.TLSConfig = tlsConf // a clone; ServeTLS adds HTTP/2 to it
		errc <- hs.ServeTLS(ln, "", "")
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("site server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down: waiting for requests in flight", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = hs.Shutdown(sctx)
	if err != nil {
		hs.Close() // the grace period is over: cut what is left
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// CheckPlainHTTPAddr refuses plain HTTP on anything but a loopback address:
// the hosts of a site must reach the server over TLS.
func CheckPlainHTTPAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("plain HTTP is allowed on a loopback address only (such as 127.0.0.1:5000), not %q; drop --plain-http to serve over TLS with the site CA", addr)
}
