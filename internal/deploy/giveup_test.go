package deploy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
)

// TestRefusingHostFailsItsPhaseOnce: a host whose SSH port refuses the
// connection (a closed loopback port) fails its phase at the first
// attempt's answer: the phase's other attempts (3, with 1s and 2s between
// them) are not made, and the error names the host, the port and the fix.
func TestRefusingHostFailsItsPhaseOnce(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	writeFile(t, key, pem.EncodeToMemory(block))
	h := &s.inv.Hosts[0]
	h.Address, h.Port, h.KeyFile = "127.0.0.1", freePort(t), key
	cfg := s.config(t.TempDir())
	cfg.DialAttempts = 1 // the refusal is final at once (sshx retries it within its grace otherwise)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := plan.New(plan.ForEach("/preflight", "Preflight", []inventory.Host{*h}, d.hostPhase("/preflight", "Preflight checks", d.preflightSite().Check)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Leaves()[0].Attempts != DefaultAttempts || DefaultAttempts < 2 {
		t.Fatalf("the phase has %d attempts; the test needs several", p.Leaves()[0].Attempts)
	}
	var out strings.Builder
	ex, err := plan.NewExecutor(p, cfg.StateDir, plan.Options{Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	start := time.Now()
	err = ex.Run(context.Background())
	took := time.Since(start)
	if err == nil {
		t.Fatal("a host that refuses SSH passed its phase")
	}
	if took > 900*time.Millisecond || strings.Contains(out.String(), "attempt 2/") {
		t.Errorf("the phase was retried (%s):\n%s", took, out.String())
	}
	for _, want := range []string{"master-1", "refused the connection", "systemctl enable --now sshd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}
