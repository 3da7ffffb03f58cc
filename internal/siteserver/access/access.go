// Package access decides who may read from the site server: the client
// addresses on its allow-list (loopback only by default), and, when the
// policy asks for them, client certificates issued by the site CA for
// client authentication. A refused request is answered 403 with a hint on
// how to get the client admitted, and counted; refusals are logged in
// summaries (the first at once, then at most one line per interval), never
// one line per request, so a stranger knocking cannot flood the log. It
// knows nothing of what is served: the server asks Guard.Admit before it
// routes each request.
package access

import (
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Policy says who may read the seed. The zero policy admits loopback
// clients only.
type Policy struct {
	// Allow lists the client addresses (single addresses are /32 or /128
	// prefixes) that may read. Empty means loopback only (127.0.0.0/8 and
	// ::1), unless AllowAny. IPv4-mapped IPv6 clients are matched by their
	// IPv4 address.
	Allow []netip.Prefix
	// AllowAny admits every address. Callers ask for it by name and warn:
	// without ClientCAs, anyone who reaches the port reads everything.
	AllowAny bool
	// ClientCAs, when set, requires every client to present, over TLS, a
	// certificate for client authentication issued by one of these CAs.
	// Serve then refuses to run without TLS.
	ClientCAs *x509.CertPool
	// AllowHint and CertHint tell a refused client (in the 403 body) and the
	// operator (in the log summary) how to get a client admitted: such as
	// "add its address with --allow CIDR".
	AllowHint string
	CertHint  string
	// SummaryEvery is the least time between two log lines about refused
	// requests (default DefaultRefusalSummary).
	SummaryEvery time.Duration
}

// DefaultRefusalSummary is how often, at most, the server logs a summary of
// the requests it refused. The first refusal is logged at once.
const DefaultRefusalSummary = time.Minute

// LoopbackPrefixes are the addresses the zero Policy admits.
var LoopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ParseAllow parses client addresses for Policy.Allow: each is an IP
// address or a CIDR prefix; an entry may hold several separated by commas.
// Each prefix is normalised (normalizePrefix) before it is checked, and a
// prefix that then admits every address (0.0.0.0/0, ::/0, and
// ::ffff:0:0/96, which is 0.0.0.0/0) is refused: that is an insecure mode,
// asked for with AllowAny by name.
func ParseAllow(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		for _, s := range strings.Split(e, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := parsePrefix(s)
			if err != nil {
				return nil, err
			}
			// Normalise before the guard: ::ffff:0.0.0.0/96 is 0.0.0.0/0.
			if p = normalizePrefix(p); p.Bits() == 0 {
				return nil, fmt.Errorf("allowed client %q admits every address; list the site's networks instead, or ask for it by name (--allow-any)", s)
			}
			out = append(out, p)
		}
	}
	return NormalizePrefixes(out), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("allowed client %q is not an IP address or CIDR prefix (such as 10.0.0.0/24): %w", s, err)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allowed client %q is not an IP address or CIDR prefix (such as 10.0.0.0/24); host names are not accepted", s)
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normalizePrefix masks p and maps an IPv4-mapped IPv6 prefix onto IPv4
// (::ffff:10.0.0.0/104 is 10.0.0.0/8). Masking comes first: a prefix
// shorter than /96, such as ::ffff:0:0/90, is then no longer IPv4-mapped
// and stays an IPv6 prefix, which matches no IPv4 client (clients are
// matched unmapped), instead of widening to 0.0.0.0/0.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// NormalizePrefixes masks prefixes, maps IPv4-mapped IPv6 prefixes onto
// IPv4 (normalizePrefix), then sorts and de-duplicates them.
func NormalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, normalizePrefix(p))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	return slices.Compact(out)
}

// Refusals counts the requests a Guard refused, by reason.
type Refusals struct {
	Address uint64 // from an address not allowed
	NoCert  uint64 // without a client certificate, when one is required
	BadCert uint64 // with a client certificate not issued by the client CAs for client authentication, or out of its validity
}

// Total is the number of refused requests.
func (r Refusals) Total() uint64 { return r.Address + r.NoCert + r.BadCert }

// Refused returns how many requests g refused, by reason.
func (g *Guard) Refused() Refusals {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// Summary describes, in one line, who may read the seed.
func (g *Guard) Summary() string {
	p := &g.policy
	var who string
	switch {
	case p.AllowAny:
		who = "any address"
	default:
		names := make([]string, len(g.allow))
		for i, a := range g.allow {
			names[i] = a.String()
		}
		who = strings.Join(names, ", ")
	}
	if p.ClientCAs != nil {
		who += ", with a client certificate from the site CA"
	}
	return who
}

// maxRefusedAddrs bounds the distinct client addresses a summary names.
const maxRefusedAddrs = 16

// Guard enforces a Policy and counts what it refuses. It is safe for
// concurrent use.
type Guard struct {
	policy Policy
	allow  []netip.Prefix
	log    *slog.Logger
	deny   func(w http.ResponseWriter, r *http.Request, msg string)
	now    func() time.Time

	mu       sync.Mutex
	total    Refusals
	pending  Refusals              // since the last log line
	from     map[netip.Addr]uint64 // pending, by client address (at most maxRefusedAddrs)
	fromMore uint64                // pending, from addresses beyond those
	lastLog  time.Time             // zero until the first line
	timer    *time.Timer           // armed while pending refusals wait for their line
	verified map[[sha256.Size]byte]verifiedCert
}

// New returns a Guard enforcing p that logs its refusal summaries to log
// and answers a refused request with deny(w, r, msg): a 403 in the
// server's error format, msg saying why (with the policy's hint).
func New(p Policy, log *slog.Logger, deny func(w http.ResponseWriter, r *http.Request, msg string)) *Guard {
	if p.SummaryEvery <= 0 {
		p.SummaryEvery = DefaultRefusalSummary
	}
	g := &Guard{policy: p, log: log, deny: deny, now: time.Now, from: map[netip.Addr]uint64{},
		verified: map[[sha256.Size]byte]verifiedCert{}}
	g.allow = NormalizePrefixes(p.Allow)
	if len(g.allow) == 0 {
		g.allow = LoopbackPrefixes
	}
	return g
}

// TLSConfig returns the server TLS configuration for the policy: c with a
// client certificate requested when the policy requires one. The
// certificate is checked per request (Admit), so that a refusal is a 403
// with a reason, counted, rather than a failed handshake.
func (g *Guard) TLSConfig(c *tls.Config) (*tls.Config, error) {
	if c == nil {
		if g.policy.ClientCAs != nil {
			return nil, errors.New("site server: client certificates need TLS; drop plain HTTP")
		}
		return nil, nil
	}
	c = c.Clone()
	if g.policy.ClientCAs != nil {
		c.ClientAuth = tls.RequestClientCert
	}
	return c, nil
}

type refusal int

const (
	refusedAddress refusal = iota
	refusedNoCert
	refusedBadCert
)

// Admit reports whether r may be served; if not, it has answered 403 (with
// deny) and counted the request.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request) bool {
	addr, ok := clientAddr(r)
	if !g.policy.AllowAny && !(ok && g.allowed(addr)) {
		g.refuse(w, r, addr, refusedAddress, fmt.Sprintf("this site server does not serve %s: the address is not on its list of allowed clients", addrString(addr, ok)))
		return false
	}
	if g.policy.ClientCAs == nil {
		return true
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		g.refuse(w, r, addr, refusedNoCert, "this site server requires a client certificate from the site CA; the request came without one")
		return false
	}
	if err := g.verify(r.TLS.PeerCertificates); err != nil {
		g.refuse(w, r, addr, refusedBadCert, fmt.Sprintf("client certificate %q refused: %v", r.TLS.PeerCertificates[0].Subject.CommonName, err))
		return false
	}
	return true
}

func (g *Guard) allowed(addr netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// verify checks a client's certificate chain against the policy's CAs. A
// verification costs a few hundred microseconds of CPU, so results are
// kept (maxVerified certificates, for at most verifiedFor) and every
// request of a connection after the first costs a hash. The handshake has
// already proved that the client holds the certificate's key.
func (g *Guard) verify(chain []*x509.Certificate) error {
	sum := sha256.Sum256(chain[0].Raw)
	now := g.now()
	g.mu.Lock()
	v, ok := g.verified[sum]
	g.mu.Unlock()
	if ok && now.Before(v.until) && !now.Before(chain[0].NotBefore) {
		return v.err
	}
	err := g.verifyChain(chain, now)
	until := now.Add(verifiedFor)
	if err == nil && chain[0].NotAfter.Before(until) {
		until = chain[0].NotAfter
	}
	g.mu.Lock()
	if len(g.verified) >= maxVerified {
		clear(g.verified)
	}
	g.verified[sum] = verifiedCert{until: until, err: err}
	g.mu.Unlock()
	return err
}

// Bounds of the verified-certificate cache.
const (
	maxVerified = 1024
	verifiedFor = 10 * time.Minute
)

type verifiedCert struct {
	until time.Time
	err   error
}

func (g *Guard) verifyChain(chain []*x509.Certificate, now time.Time) error {
	opts := x509.VerifyOptions{
		Roots:         g.policy.ClientCAs,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   now,
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return errors.New("it was not issued for client authentication by the site CA, or it has expired")
	}
	return nil
}

// clientAddr is the client's IP address, IPv4-mapped addresses unmapped.
func clientAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().WithZone("").Unmap(), true
}

func addrString(a netip.Addr, ok bool) string {
	if !ok {
		return "this client"
	}
	return a.String()
}

// refuse answers 403 and counts the refusal. Nothing is logged per request:
// the first refusal is logged at once, later ones in a summary at most once
// per SummaryEvery.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, addr netip.Addr, why refusal, msg string) {
	hint := g.policy.AllowHint
	if why != refusedAddress {
		hint = g.policy.CertHint
	}
	if hint != "" {
		msg += "; on the deploy node, " + hint
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	g.deny(w, r, msg)
	g.count(addr, why)
}

func (g *Guard) count(addr netip.Addr, why refusal) {
	g.mu.Lock()
	for _, c := range []*Refusals{&g.total, &g.pending} {
		switch why {
		case refusedAddress:
			c.Address++
		case refusedNoCert:
			c.NoCert++
		default:
			c.BadCert++
		}
	}
	if _, seen := g.from[addr]; seen || len(g.from) < maxRefusedAddrs {
		g.from[addr]++
	} else {
		g.fromMore++
	}
	now := g.now()
	due := g.lastLog.IsZero() || now.Sub(g.lastLog) >= g.policy.SummaryEvery
	if !due && g.timer == nil {
		g.timer = time.AfterFunc(g.lastLog.Add(g.policy.SummaryEvery).Sub(now), g.Flush)
	}
	g.mu.Unlock()
	if due {
		g.Flush()
	}
}

// Flush logs one line with the refusals not yet logged, if any: the
// server calls it when it stops.
func (g *Guard) Flush() {
	g.mu.Lock()
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	n := g.pending
	if n.Total() == 0 {
		g.mu.Unlock()
		return
	}
	total := g.total.Total()
	from := g.fromList()
	g.pending, g.from, g.fromMore = Refusals{}, map[netip.Addr]uint64{}, 0
	g.lastLog = g.now()
	g.mu.Unlock()
	attrs := []any{"requests", n.Total(), "total", total, "from", from}
	if n.Address > 0 {
		attrs = append(attrs, "address_not_allowed", n.Address)
	}
	if n.NoCert > 0 {
		attrs = append(attrs, "no_client_cert", n.NoCert)
	}
	if n.BadCert > 0 {
		attrs = append(attrs, "bad_client_cert", n.BadCert)
	}
	if n.Address > 0 && g.policy.AllowHint != "" {
		attrs = append(attrs, "allow", g.policy.AllowHint)
	}
	if n.NoCert+n.BadCert > 0 && g.policy.CertHint != "" {
		attrs = append(attrs, "certs", g.policy.CertHint)
	}
	g.log.Warn(fmt.Sprintf("refused requests (counted, at most one line per %v)", g.policy.SummaryEvery), attrs...)
}

// fromList names the pending refused addresses, most refused first. The
// caller holds mu.
func (g *Guard) fromList() string {
	type addrCount struct {
		addr netip.Addr
		n    uint64
	}
	list := make([]addrCount, 0, len(g.from))
	for ad, n := range g.from {
		list = append(list, addrCount{ad, n})
	}
	slices.SortFunc(list, func(x, y addrCount) int { return cmp.Or(cmp.Compare(y.n, x.n), x.addr.Compare(y.addr)) })
	parts := make([]string, 0, len(list)+1)
	for _, c := range list {
		name := "unknown"
		if c.addr.IsValid() {
			name = c.addr.String()
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", name, c.n))
	}
	if g.fromMore > 0 {
		parts = append(parts, fmt.Sprintf("other addresses (%d)", g.fromMore))
	}
	return strings.Join(parts, ", ")
}
