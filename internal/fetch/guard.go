package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// ErrPlainHTTP is wrapped by the error for a plain-HTTP request to a host
// that is neither loopback nor named insecure.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// InsecureError refuses plain HTTP to Host.
type InsecureError struct{ Host string }

func (e *InsecureError) Error() string {
	return fmt.Sprintf("plain HTTP to %s is refused: it is not a loopback address; use https, or if you trust the network "+
		"add %s to spec.insecureRegistries or pass --insecure-registry %s", e.Host, e.Host, e.Host)
}

// Unwrap makes errors.Is(err, ErrPlainHTTP) hold.
func (e *InsecureError) Unwrap() error { return ErrPlainHTTP }

// InsecureHosts is the set of hosts allowed over plain HTTP besides
// loopback, each named as HOST:PORT, or as HOST for every port.
type InsecureHosts map[string]bool

// NewInsecureHosts returns the set of hosts.
func NewInsecureHosts(hosts ...string) InsecureHosts {
	s := InsecureHosts{}
	for _, h := range hosts {
		s[h] = true
	}
	return s
}

// Named reports whether hostport was named insecure, as itself or by its
// host alone.
func (s InsecureHosts) Named(hostport string) bool {
	if s[hostport] {
		return true
	}
	h, _, err := net.SplitHostPort(hostport)
	return err == nil && s[h]
}

// PlainHTTPAllowed reports whether hostport may be reached over plain
// HTTP: it is loopback, or it was named insecure.
func (s InsecureHosts) PlainHTTPAllowed(hostport string) bool {
	return IsLoopback(hostport) || s.Named(hostport)
}

// Guard is an http.RoundTripper that refuses plain-HTTP requests to hosts
// that are neither loopback nor in Hosts, whoever makes them (token
// servers and redirects included), with an *InsecureError. The first
// plain-HTTP request to each named host is passed to Warn.
type Guard struct {
	Inner  http.RoundTripper // nil: http.DefaultTransport
	Hosts  InsecureHosts
	Warn   func(host string) // nil: no warning
	warned sync.Map
}

// RoundTrip implements http.RoundTripper.
func (g *Guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		host := req.URL.Host
		if !g.Hosts.PlainHTTPAllowed(host) {
			return nil, &InsecureError{Host: host}
		}
		if _, seen := g.warned.LoadOrStore(host, true); !seen && g.Warn != nil && !IsLoopback(host) {
			g.Warn(host)
		}
	}
	inner := g.Inner
	if inner == nil {
		inner = http.DefaultTransport
	}
	return inner.RoundTrip(req)
}
