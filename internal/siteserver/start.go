package siteserver

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"

	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// StartConfig is what Start needs to run a site server.
type StartConfig struct {
	// Content is what the server serves.
	Content content.Content
	// Addr is the address to listen on, IP:PORT.
	Addr string
	// StateDir holds the site CA, which siteca.Open creates on first use;
	// unused with PlainHTTP.
	StateDir string
	// Names are the DNS names and addresses the server certificate is for.
	Names []string
	// PlainHTTP serves without TLS; the caller checks Addr first
	// (CheckPlainHTTPAddr).
	PlainHTTP bool
	// Access says who may read. With ClientCerts, every client must also
	// present a client certificate from the site CA.
	Access      access.Policy
	ClientCerts bool
	// Logger receives the server's log (New's default when nil).
	Logger *slog.Logger
}

// Running is a site server Start started. It serves until the context
// given to Start is done; Done then yields Serve's result.
type Running struct {
	*Server
	// CA is the site CA the server certificate is from; nil with
	// PlainHTTP.
	CA   *siteca.CA
	addr net.Addr
	done chan error
}

// ListenError is Start's error when it cannot listen on the address: the
// port is taken, or the address is not this machine's.
type ListenError struct {
	Addr string
	Err  error
}

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }

// Start runs a site server the one way both deploy serve and deploy's
// /seed do: the site CA in StateDir and a TLS configuration for Names
// (unless PlainHTTP), New over Content, Listen on Addr, then Serve in the
// background until ctx is done. Nothing is left running when it fails;
// the caller cancels ctx to stop the server.
func Start(ctx context.Context, c StartConfig) (*Running, error) {
	var tlsConf *tls.Config
	var ca *siteca.CA
	var opts []Option
	if !c.PlainHTTP {
		var err error
		if ca, err = siteca.Open(c.StateDir); err != nil {
			return nil, err
		}
		if tlsConf, err = ca.TLSConfig(c.Names); err != nil {
			return nil, err
		}
		opts = append(opts, WithCACert(ca.CACertPEM()))
		if c.ClientCerts {
			c.Access.ClientCAs = ca.ClientCAs()
		}
	}
	if c.Logger != nil {
		opts = append(opts, WithLogger(c.Logger))
	}
	srv, err := New(ctx, c.Content, append(opts, WithAccess(c.Access))...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, &ListenError{Addr: c.Addr, Err: err}
	}
	r := &Running{Server: srv, CA: ca, addr: ln.Addr(), done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln, tlsConf) }()
	return r, nil
}

// Addr is the address the server listens on (the port filled in when
// Addr asked for port 0).
func (r *Running) Addr() net.Addr { return r.addr }

// Done yields Serve's result once the server has stopped.
func (r *Running) Done() <-chan error { return r.done }

// ServerNames lists the names a server certificate for addr covers: --san, the
// listen IP (or every local address when listening on all of them), the
// host name, and localhost.
func ServerNames(addr string, sans []string) []string {
	names := append([]string{"localhost", "127.0.0.1", "::1"}, sans...)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return names
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil && host != "":
		names = append(names, host)
	case ip != nil && !ip.IsUnspecified():
		names = append(names, ip.String())
	default:
		names = append(names, localAddrs()...)
		if hn, err := os.Hostname(); err == nil {
			names = append(names, hn)
		}
	}
	return names
}

func localAddrs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	return out
}
