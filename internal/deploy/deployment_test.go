package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/deploy/status"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/hostsetup"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/internal/trust"
)

var fixtureRoles = map[string]string{
	hostsetup.PackagesAnnotation + "master": "chain-a",
	hostsetup.PackagesAnnotation + "worker": "cron-lite",
}

func TestPhasesInOrder(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Roots() {
		got = append(got, r.ID)
	}
	want := []string{"/verify", "/seed", "/preflight", "/unique", "/repos", "/packages", "/system", "/containerd", "/ha"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("top-level phases %v, want %v", got, want)
	}
	children := map[string][]string{
		"/preflight":  {"master-1", "master-2", "worker-1"},
		"/packages":   {"master-1", "master-2", "worker-1"},
		"/containerd": {"master-1", "master-2", "worker-1"},
		"/ha":         {"master-1", "master-2"},
	}
	for id, hosts := range children {
		var leaves []string
		for _, l := range p.LeavesUnder(id) {
			if l.ID != id+"/"+l.Host {
				t.Errorf("leaf %s acts on host %q", l.ID, l.Host)
			}
			leaves = append(leaves, l.Host)
		}
		if strings.Join(leaves, " ") != strings.Join(hosts, " ") {
			t.Errorf("%s runs on %v, want %v", id, leaves, hosts)
		}
	}
}

func TestNoHAPhaseWithoutVIP(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	s.inv.APIServer.VIP = ""
	d := s.open(t, t.TempDir())
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase("/ha") != nil {
		t.Error("a site without a VIP got an /ha phase")
	}
}

func TestOpenRefusesUnverifiedBundles(t *testing.T) {
	s := newTestSite(t, nil)
	cfg := s.config(t.TempDir())
	cfg.KeyPath = ""
	if _, err := Open(cfg); !errors.Is(err, trust.ErrNoKey) {
		t.Errorf("Open without a key: %v, want ErrNoKey", err)
	}
	_, otherPub, err := signing.GenerateKeyPair([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.pub")
	writeFile(t, other, otherPub)
	cfg.KeyPath = other
	if _, err := Open(cfg); !errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("Open with another key: %v, want ErrBadSignature", err)
	}
	var warn bytes.Buffer
	cfg.KeyPath, cfg.InsecureSkipVerify, cfg.Warn = "", true, &warn
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if !strings.Contains(warn.String(), "NOT checked") {
		t.Errorf("--insecure-skip-verify gave no loud warning: %q", warn.String())
	}
}

// TestDryRun: every host's commands are listed, nothing is written.
func TestDryRun(t *testing.T) {
	d, text := dryRun(t, newTestSite(t, fixtureRoles))
	for _, want := range []string{
		"master-1", "master-2", "worker-1",
		"cat /etc/os-release",
		"upload", hostconf.RepoFile,
		"yum -y --disablerepo='*' --enablerepo='appliance-*' install 'chain-a'",
		"yum -y --disablerepo='*' --enablerepo='appliance-*' install 'cron-lite'",
		"haproxy -c -q -f '" + hostconf.HAProxyConfig + ".appliance-new'",
		"keepalived --config-test -f '" + hostconf.KeepalivedConfig + ".appliance-new'",
		"systemctl restart 'containerd'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run does not mention %q:\n%s", want, text)
		}
	}
	var again bytes.Buffer
	if err := d.DryRun(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != text {
		t.Error("two dry runs listed different commands")
	}
}

// dryRun opens the site with a state directory that does not exist yet,
// returns the dry run's listing, and fails the test if the dry run made
// the state directory.
func dryRun(t *testing.T, s *testSite) (*Deployment, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	d := s.open(t, state)
	var out bytes.Buffer
	if err := d.DryRun(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created the state directory: %v", err)
	}
	return d, out.String()
}

// TestDeployNodePhases runs /verify and /seed for real: the bundle's
// digests check out, the site server answers over TLS with the site CA,
// and `deploy plan` shows both completed from the state directory alone.
func TestDeployNodePhases(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	state := t.TempDir()
	var progress bytes.Buffer
	cfg := s.config(state)
	cfg.Out = &progress
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"/verify", "/seed"} {
		if err := d.Run(ctx, RunOptions{Phase: id}); err != nil {
			t.Fatalf("%s: %v\n%s", id, err, progress.String())
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	if err := status.ShowPlan(&shown, state, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(shown.String(), "\n") {
		if strings.Contains(line, "/verify") || strings.Contains(line, "/seed") {
			if !strings.Contains(line, string(plan.Completed)) {
				t.Errorf("deploy plan shows %q, want completed", line)
			}
		}
	}
	if !strings.Contains(shown.String(), "/ha/master-2") {
		t.Errorf("deploy plan does not show the whole tree:\n%s", shown.String())
	}
}

func TestJournalGuards(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	state := t.TempDir()
	d := s.open(t, state)
	ctx := context.Background()
	if err := d.Run(ctx, RunOptions{Phase: "/verify"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d = s.open(t, state)
	if err := d.Run(ctx, RunOptions{}); !errors.Is(err, ErrJournalExists) {
		t.Errorf("a second deploy over a journal: %v, want ErrJournalExists", err)
	}
	d.Close()

	other := newTestSite(t, nil)
	other.inv, other.seedPort = s.inv, s.seedPort
	d2 := other.open(t, state)
	if err := d2.Run(ctx, RunOptions{Resume: true, Phase: "/verify"}); !errors.Is(err, ErrOtherBundle) {
		t.Errorf("resume with another bundle: %v, want ErrOtherBundle", err)
	}
	d2.Close()
	d = s.open(t, state)
	if err := d.Run(ctx, RunOptions{Restart: true, Phase: "/verify"}); err != nil {
		t.Errorf("--restart: %v", err)
	}
	kept, _ := filepath.Glob(filepath.Join(state, "journal-*.jsonl"))
	if len(kept) != 1 {
		t.Errorf("--restart kept %d old journals, want 1", len(kept))
	}
}
