package inventory

import (
	"errors"
	"strings"
	"testing"
)

// TestOneMasterWithVIP: a VIP with a single master is refused at load, at
// the VIP's line, naming the master and both fixes; the same site without
// the VIP, or with three masters, loads.
func TestOneMasterWithVIP(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	one := edit(base, "roles: [master]", "roles: [worker]", 2) // master-2 becomes a worker
	one = edit(one, "roles: [master]", "roles: [worker]", 2)   // and master-3
	if n := strings.Count(one, "roles: [master]"); n != 1 {
		t.Fatalf("test edit left %d masters", n)
	}
	_, err := parse(t, one)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("one master with a VIP: %v, want a *ValidationError", err)
	}
	if len(ve.Problems) != 1 {
		t.Errorf("%d problems, want 1: %v", len(ve.Problems), err)
	}
	p := ve.Problems[0]
	if p.Field != "apiserver.vip" || p.Line != lineOf(one, "vip:", 1) {
		t.Errorf("problem at %s line %d, want apiserver.vip at line %d", p.Field, p.Line, lineOf(one, "vip:", 1))
	}
	for _, want := range []string{"10.0.0.10", "master-1 is the only master"} {
		if !strings.Contains(p.Message, want) {
			t.Errorf("message %q lacks %q", p.Message, want)
		}
	}
	for _, want := range []string{"remove apiserver.vip", "3 masters"} {
		if !strings.Contains(p.Fix, want) {
			t.Errorf("fix %q lacks %q", p.Fix, want)
		}
	}

	noVIP := edit(one, "  vip: 10.0.0.10\n", "", 1)
	if _, err := parse(t, noVIP); err != nil {
		t.Errorf("one master without a VIP: %v", err)
	}
	if _, err := parse(t, base); err != nil {
		t.Errorf("three masters with a VIP: %v", err)
	}
}
