package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Sentinels for connection failures; use errors.Is.
var (
	// ErrConnectionLost: the connection dropped while a command ran. The
	// command may or may not have finished on the host; the next call
	// reconnects, so an idempotent caller can simply retry.
	ErrConnectionLost = errors.New("SSH connection lost")
	// ErrUnreachable: every dial attempt failed.
	ErrUnreachable = errors.New("host unreachable over SSH")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("SSH client closed")
)

// Client runs commands on one host. It is safe for concurrent use: commands
// run in parallel sessions over one connection, which is re-established
// (with retries) by the next call after it drops.
type Client struct {
	cfg Config
	log io.WriteCloser // cfg.Log through the redactor

	mu     sync.Mutex
	cur    *link
	closed bool
}

// link is one established connection, and the jump connection under it.
type link struct {
	client     *ssh.Client
	jump       *link
	closeAgent func()
	done       chan struct{} // closed when the connection has ended
	once       sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		l.client.Close()
		if l.jump != nil {
			l.jump.close()
		}
		l.closeAgent()
	})
}

func (l *link) alive() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// Dial connects to the host described by cfg, verifying its host key, and
// returns a Client. Transient failures are retried (see Config.DialAttempts);
// a refused host key or failed authentication is not.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c := &Client{cfg: cfg.withDefaults()}
	c.log = c.cfg.Redactor.Writer(c.cfg.Log)
	if _, err := c.connection(ctx); err != nil {
		c.log.Close()
		return nil, err
	}
	return c, nil
}

// Name is the host's inventory name.
func (c *Client) Name() string { return c.cfg.Name }

// Redactor returns the redactor the client logs through.
func (c *Client) Redactor() *Redactor { return c.cfg.Redactor }

// Close ends the connection. Commands running on it return ErrConnectionLost.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.cur != nil {
		c.cur.close()
		c.cur = nil
	}
	return c.log.Close()
}

// connection returns the live connection, dialing a new one if it dropped.
func (c *Client) connection(ctx context.Context) (*link, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%s: %w", c.cfg.Name, ErrClosed)
	}
	if c.cur != nil && c.cur.alive() {
		return c.cur, nil
	}
	if c.cur != nil {
		c.cur.close()
		c.cur = nil
		c.logf("connection to %s dropped; reconnecting", c.cfg.addr())
	}
	l, err := dialRetry(ctx, &c.cfg, c.log)
	if err != nil {
		return nil, err
	}
	c.cur = l
	return l, nil
}

// drop closes l, so the next call reconnects.
func (c *Client) drop(l *link) {
	l.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == l {
		c.cur = nil
	}
}

func (c *Client) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "%s [%s] %s\n", time.Now().UTC().Format(time.RFC3339), c.cfg.Name, fmt.Sprintf(format, args...))
}

// permanent marks a dial error that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// IsPermanent reports whether err is a failure to connect that another
// attempt cannot change: no route to the host or its network, a name that
// does not resolve, a connection refused for longer than RefusedGrace, an
// unknown or changed host key, or a rejected login. Callers that retry
// (deploy's phase attempts) should not retry these.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// connectKind is what a failed connection attempt says about the next one.
type connectKind int

const (
	// transient: a timeout, a reset, a handshake cut short (sshd drops
	// connections beyond its MaxStartups), anything not known to be
	// final. Retried.
	transient connectKind = iota
	// refused: the host answered, but nothing listens on the port. sshd
	// may be starting (a host that just booted), so it is retried, but
	// only for Config.RefusedGrace.
	refused
	// unreachable: no route to the host or its network (the host is down,
	// or not where the inventory says), or its name does not resolve.
	// Another attempt gets the same answer: never retried.
	unreachable
)

// classifyConnect sorts a dial error by what another attempt can change.
// It reads the errno of a direct TCP connect, the resolver's not-found,
// and, through a jump host, the reason its sshd gives for a tunnel it could
// not open (OpenSSH sends the connect error's text).
func classifyConnect(err error) connectKind {
	var dns *net.DNSError
	switch {
	case err == nil:
		return transient
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return unreachable
	case errors.As(err, &dns) && dns.IsNotFound:
		return unreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return refused
	}
	var oc *ssh.OpenChannelError
	if errors.As(err, &oc) && oc.Reason == ssh.ConnectionFailed {
		m := strings.ToLower(oc.Message)
		switch {
		case strings.Contains(m, "no route to host"), strings.Contains(m, "network is unreachable"):
			return unreachable
		case strings.Contains(m, "connection refused"):
			return refused
		}
	}
	return transient
}

// dialRetry dials until it connects, retrying what another attempt may
// change (see connectKind) with backoff, at most DialAttempts times.
func dialRetry(ctx context.Context, cfg *Config, log io.Writer) (*link, error) {
	var (
		err          error
		kind         connectKind
		refusedSince time.Time
	)
	for attempt := 1; ; attempt++ {
		var l *link
		l, err = dialOnce(ctx, cfg, log)
		if err == nil {
			return l, nil
		}
		if IsPermanent(err) {
			return nil, err
		}
		switch kind = classifyConnect(err); kind {
		case unreachable:
			return nil, permanent{fmt.Errorf("%w: %s (%s): %w; not retried, another attempt gets the same answer: "+
				"check that the host is up and that its address in the inventory is right, and that this machine has a route to it",
				ErrUnreachable, cfg.Name, cfg.addr(), err)}
		case refused:
			if refusedSince.IsZero() {
				refusedSince = time.Now()
			}
			if time.Since(refusedSince) >= cfg.RefusedGrace {
				return nil, refusedError(cfg, attempt, time.Since(refusedSince), err)
			}
		default:
			refusedSince = time.Time{}
		}
		if attempt >= cfg.DialAttempts || ctx.Err() != nil {
			if kind == refused {
				return nil, refusedError(cfg, attempt, time.Since(refusedSince), err)
			}
			break
		}
		wait := backoff(cfg.RetryBase, cfg.RetryMax, attempt)
		if kind == refused {
			// The last try falls at the end of the grace.
			wait = max(min(wait, cfg.RefusedGrace-time.Since(refusedSince)), 0)
		}
		fmt.Fprintf(log, "%s [%s] connecting to %s failed (attempt %d/%d): %v; retrying in %s\n",
			time.Now().UTC().Format(time.RFC3339), cfg.Name, cfg.addr(), attempt, cfg.DialAttempts, err,
			wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("%w: %s (%s) after %d attempts: %v; check that the host is up, sshd runs, "+
		"and the network allows port %d", ErrUnreachable, cfg.Name, cfg.addr(), cfg.DialAttempts, err, cfg.Port)
}

// refusedError: the host kept refusing the connection.
func refusedError(cfg *Config, attempts int, over time.Duration, err error) error {
	return permanent{fmt.Errorf("%w: %s (%s) refused the connection after %d attempts over %s: %w; nothing listens on port %d there: "+
		"start sshd on the host (systemctl enable --now sshd), or fix the host's port in the inventory",
		ErrUnreachable, cfg.Name, cfg.addr(), attempts, over.Round(time.Millisecond), err, cfg.Port)}
}

// backoff returns base*2^(attempt-1), capped at max, plus or minus 20%.
func backoff(base, max time.Duration, attempt int) time.Duration {
	d := base << min(attempt-1, 20)
	if d <= 0 || d > max {
		d = max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// dialOnce makes one connection attempt: TCP (directly or through the jump
// host), then the SSH handshake, all within DialTimeout. The key is loaded
// first, outside that bound: asking for its passphrase and decrypting it
// (bcrypt, seconds on a busy host) are not the network's time.
func dialOnce(ctx context.Context, cfg *Config, log io.Writer) (*link, error) {
	methods, closeAgent, err := authMethods(cfg)
	if err != nil {
		return nil, permanent{err}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var jump *link
	if cfg.Jump != nil {
		if jump, err = dialOnce(ctx, cfg.Jump, log); err != nil {
			closeAgent()
			return nil, fmt.Errorf("jump host %s for %s: %w", cfg.Jump.Name, cfg.Name, err)
		}
	}
	policy := &hostKeyPolicy{name: cfg.Name, knownHosts: cfg.KnownHostsFile, pin: cfg.HostKey,
		acceptNew: cfg.AcceptNewHostKeys, log: log}
	client, err := handshakeAny(ctx, cfg, jump, policy, methods)
	if err != nil {
		closeAgent()
		if jump != nil {
			jump.close()
		}
		return nil, err
	}
	l := &link{client: client, jump: jump, closeAgent: closeAgent, done: make(chan struct{})}
	go func() {
		_ = client.Wait()
		close(l.done)
	}()
	if cfg.KeepaliveInterval > 0 {
		go keepalive(l, cfg, log)
	}
	return l, nil
}

// handshakeAny connects with the host key algorithms policy prefers. With a
// pinned fingerprint that the first key offered does not match, it tries the
// host's other key types before refusing, since the pin may name any of them.
func handshakeAny(ctx context.Context, cfg *Config, jump *link, policy *hostKeyPolicy,
	methods []ssh.AuthMethod) (*ssh.Client, error) {
	addr := cfg.addr()
	client, err := handshake(ctx, cfg, jump, policy, methods, policy.algorithms(addr))
	var hk *HostKeyError
	if err == nil || !errors.As(err, &hk) || hk.Pinned == "" {
		return client, classify(cfg, err)
	}
	for _, family := range preferredAlgos {
		var e2 *HostKeyError
		client, err2 := handshake(ctx, cfg, jump, policy, methods, family)
		if err2 == nil {
			return client, nil
		}
		if !errors.As(err2, &e2) && !strings.Contains(err2.Error(), "no common algorithm") {
			return nil, classify(cfg, err2)
		}
	}
	return nil, classify(cfg, err)
}

func handshake(ctx context.Context, cfg *Config, jump *link, policy *hostKeyPolicy,
	methods []ssh.AuthMethod, algos []string) (*ssh.Client, error) {
	addr := cfg.addr()
	var (
		conn net.Conn
		err  error
	)
	if jump != nil {
		conn, err = jump.client.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              methods,
		HostKeyCallback:   policy.callback(addr),
		HostKeyAlgorithms: algos,
		Timeout:           cfg.DialTimeout,
	})
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("SSH handshake with %s: %w", addr, ctx.Err())
		}
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// classify wraps errors retrying cannot fix as permanent.
func classify(cfg *Config, err error) error {
	if err == nil {
		return nil
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return permanent{hk}
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		return permanent{fmt.Errorf("%w: %s rejected user %s (%v); add the public key to ~%s/.ssh/authorized_keys "+
			"on the host, or fix user/keyFile in the inventory", ErrAuth, cfg.Name, cfg.User, err, cfg.User)}
	}
	return err
}

// keepalive sends keepalive@openssh.com every interval and drops the link
// after KeepaliveMaxMissed requests in a row go unanswered.
func keepalive(l *link, cfg *Config, log io.Writer) {
	t := time.NewTicker(cfg.KeepaliveInterval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err == nil {
				missed = 0
				continue
			}
		case <-time.After(cfg.KeepaliveInterval):
		case <-l.done:
			return
		}
		if missed++; missed >= cfg.KeepaliveMaxMissed {
			fmt.Fprintf(log, "%s [%s] no answer to %d keepalives from %s; dropping the connection\n",
				time.Now().UTC().Format(time.RFC3339), cfg.Name, missed, cfg.addr())
			l.close()
			return
		}
	}
}
