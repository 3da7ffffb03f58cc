package access

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/siteca"
)

// forbid answers a refused request as the site server does outside /v2/.
func forbid(w http.ResponseWriter, _ *http.Request, msg string) {
	http.Error(w, msg, http.StatusForbidden)
}

// refusalLines returns the log lines about refused requests.
func refusalLines(logs string) []string {
	var out []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, "refused requests") {
			out = append(out, l)
		}
	}
	return out
}

// TestManyAddressesBoundTheSummary: a summary names at most
// maxRefusedAddrs addresses and counts the rest together.
func TestManyAddressesBoundTheSummary(t *testing.T) {
	logs := &lockedio.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := New(Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, AllowHint: "add it with --allow CIDR"}, log, forbid)
	for i := range 40 {
		req := httptest.NewRequest(http.MethodGet, "/files/seed.txt", nil)
		req.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 4000).String()
		g.Admit(httptest.NewRecorder(), req)
	}
	g.Flush()
	lines := refusalLines(logs.String())
	if len(lines) != 2 {
		t.Fatalf("refusal lines:\n%s\nwant 2", strings.Join(lines, ""))
	}
	if got := strings.Count(lines[1], "10.0.1."); got != maxRefusedAddrs || !strings.Contains(lines[1], "other addresses (23)") {
		t.Errorf("summary names %d addresses, want %d and the other 23 counted together:\n%s", got, maxRefusedAddrs, lines[1])
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow([]string{"10.0.0.5", "10.0.1.7/24, 10.0.0.5/32", "fd00::1", "::ffff:192.168.0.0/112"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.5/32", "10.0.1.0/24", "192.168.0.0/16", "fd00::1/128"}
	var names []string
	for _, p := range got {
		names = append(names, p.String())
	}
	if !slices.Equal(names, want) {
		t.Errorf("ParseAllow = %v, want %v", names, want)
	}
	for in, says := range map[string]string{
		"0.0.0.0/0":         "--allow-any",
		"::/0":              "--allow-any",
		"seed.site.local":   "host names are not accepted",
		"10.0.0.0/33":       "not an IP address or CIDR prefix",
		"fe80::1%eth0/64":   "zone",
		"10.0.0.1,10.0.0.x": `"10.0.0.x"`,
	} {
		if _, err := ParseAllow([]string{in}); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseAllow(%q): %v, want an error containing %q", in, err, says)
		}
	}
}

// TestParseAllowMappedPrefixes: an IPv4-mapped IPv6 prefix is unmapped
// before the "admits every address" guard, so ::ffff:0.0.0.0/96 (every IPv4
// client) is refused like 0.0.0.0/0, and a mapped /8 is the IPv4 /8.
func TestParseAllowMappedPrefixes(t *testing.T) {
	for _, in := range []string{"::/0", "0.0.0.0/0", "::ffff:0.0.0.0/96", "::ffff:0:0/96", "::ffff:10.1.2.3/96"} {
		_, err := ParseAllow([]string{"10.0.0.1", in})
		if err == nil || !strings.Contains(err.Error(), "--allow-any") {
			t.Errorf("ParseAllow(%q): %v, want it refused as admitting every address", in, err)
		}
	}
	for in, want := range map[string]string{
		"::ffff:10.0.0.0/104":  "10.0.0.0/8",
		"::ffff:10.9.9.9/104":  "10.0.0.0/8",
		"::ffff:10.0.0.7":      "10.0.0.7/32",
		"::ffff:0:0/90":        "::ffc0:0:0/90", // mixes v6 space; matches no IPv4 client
		"::ffff:192.0.2.0/120": "192.0.2.0/24",
	} {
		got, err := ParseAllow([]string{in})
		if err != nil || len(got) != 1 || got[0].String() != want {
			t.Errorf("ParseAllow(%q) = %v, %v; want [%s]", in, got, err, want)
			continue
		}
		a := New(Policy{Allow: got}, nil, forbid)
		if a.allowed(netip.MustParseAddr("203.0.113.9")) {
			t.Errorf("ParseAllow(%q) admits 203.0.113.9", in)
		}
	}
}

func TestSummary(t *testing.T) {
	ca, err := siteca.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{}, "127.0.0.0/8, ::1/128"},
		{Policy{AllowAny: true}, "any address"},
		{Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, ClientCAs: ca.ClientCAs()}, "10.0.0.0/24, with a client certificate from the site CA"},
	} {
		if got := New(c.p, slog.New(slog.DiscardHandler), forbid).Summary(); got != c.want {
			t.Errorf("Summary(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}

// TestVerifiedCacheHonoursExpiry: a client certificate verified once is
// refused once it has expired, although its verdict is cached.
func TestVerifiedCacheHonoursExpiry(t *testing.T) {
	ca, err := siteca.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClientCertificate("worker-1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	a := New(Policy{ClientCAs: ca.ClientCAs()}, slog.New(slog.DiscardHandler), forbid)
	if err := a.verify([]*x509.Certificate{leaf}); err != nil {
		t.Fatalf("a fresh site-CA client certificate: %v", err)
	}
	a.now = func() time.Time { return leaf.NotAfter.Add(time.Second) }
	if err := a.verify([]*x509.Certificate{leaf}); err == nil {
		t.Error("an expired client certificate was accepted from the cache")
	}
}
