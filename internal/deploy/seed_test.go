package deploy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// TestSeedAllowList: the seed admits every inventory host, the deploy node,
// the VIP, loopback and the --seed-allow extras, and nothing else.
func TestSeedAllowList(t *testing.T) {
	s := newTestSite(t, nil)
	inv := *s.inv
	inv.DeployNode.Address = "10.9.0.5"
	inv.Hosts = append(slices.Clone(inv.Hosts), inventory.Host{Name: "v6", Address: "fd00::21"})
	got := SeedAllowList(&inv, []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24"), netip.MustParsePrefix("10.9.0.11/32")})
	var names []string
	for _, p := range got {
		names = append(names, p.String())
	}
	want := []string{"10.9.0.5/32", "10.9.0.11/32", "10.9.0.12/32", "10.9.0.21/32", "10.9.0.100/32",
		"127.0.0.0/8", "192.168.7.0/24", "::1/128", "fd00::21/128"}
	if !slices.Equal(names, want) {
		t.Errorf("SeedAllowList = %v, want %v", names, want)
	}
	for _, a := range []string{"10.9.0.13", "10.9.1.11", "0.0.0.0"} {
		for _, p := range got {
			if p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%s is admitted by %s", a, p)
			}
		}
	}
}

// TestSeedServesOnlyTheSite: the seed deploy starts admits the allowlist
// and still passes its own /seed check from the deploy node.
func TestSeedServesOnlyTheSite(t *testing.T) {
	s := newTestSite(t, nil)
	cfg := s.config(t.TempDir())
	cfg.SeedAllow = []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24")}
	var warn bytes.Buffer
	cfg.Warn = &warn
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	summary := d.seed.srv.AccessSummary()
	for _, w := range []string{"10.9.0.11/32", "10.9.0.12/32", "10.9.0.21/32", "127.0.0.0/8", "192.168.7.0/24"} {
		if !strings.Contains(summary, w) {
			t.Errorf("the seed admits %s, lacking %s", summary, w)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.checkSeed(ctx); err != nil {
		t.Errorf("/seed from the deploy node: %v", err)
	}
	if n := d.seed.srv.Refused().Total(); n != 0 {
		t.Errorf("the seed refused %d requests of its own check", n)
	}
	// A client outside the site (only loopback can connect here, so the
	// request is handed to the server as if it came from 10.9.9.9).
	req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	req.RemoteAddr = "10.9.9.9:40000"
	rec := httptest.NewRecorder()
	d.seed.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("a request from 10.9.9.9: %d, want 403", rec.Code)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "refused 1 requests") || !strings.Contains(warn.String(), "--seed-allow") {
		t.Errorf("closing a seed that refused a client warned %q", warn.String())
	}
	if log := readFile(t, filepath.Join(cfg.StateDir, "logs", state.SeedLogFile)); !strings.Contains(log, "10.9.9.9 (1)") {
		t.Errorf("the seed log does not name the refused address:\n%s", log)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
