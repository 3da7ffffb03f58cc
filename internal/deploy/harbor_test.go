package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/deploy/sitetest"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/signing"
)

const testInstaller = "files/harbor/harbor-offline-installer-v2.8.4.tgz"

// harborSite is the unit test site with a bundle that carries a Harbor
// installer (worker-1 has the registry role).
func harborSite(t *testing.T) *testSite {
	t.Helper()
	s := newTestSite(t, fixtureRoles)
	withInstaller := filepath.Join(s.dir, "harbor.bundle")
	priv, pub, err := signingPair(t)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.pub, pub)
	err = sitetest.WriteBundle(withInstaller, sitetest.Spec{Base: s.bundle, Signer: priv,
		Files: []sitetest.File{{Path: testInstaller, Kind: bundle.KindFile, Data: []byte("not really a tgz")}}})
	if err != nil {
		t.Fatal(err)
	}
	s.bundle = withInstaller
	return s
}

func TestHarborPhases(t *testing.T) {
	s := harborSite(t)
	d := s.open(t, t.TempDir())
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var leaves []string
	for _, l := range p.LeavesUnder("/harbor") {
		leaves = append(leaves, l.ID)
	}
	want := "/harbor/install/worker-1 /harbor/load /harbor/mirrors/master-1 /harbor/mirrors/master-2 /harbor/mirrors/worker-1"
	if got := strings.Join(leaves, " "); got != want {
		t.Errorf("/harbor leaves %s, want %s", got, want)
	}
	if !p.Phase("/harbor").Sequential {
		t.Error("/harbor's steps may run at once")
	}

	// Without the installer: no /harbor, and a warning says why.
	plain := newTestSite(t, fixtureRoles)
	var warn bytes.Buffer
	cfg := plain.config(t.TempDir())
	cfg.Warn = &warn
	d2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	p2, _ := d2.Plan()
	if p2.Phase("/harbor") != nil {
		t.Error("a bundle without Harbor's installer got a /harbor phase")
	}
	if !strings.Contains(warn.String(), "worker-1 has the registry role, but the bundle carries no Harbor offline installer") {
		t.Errorf("no warning about the missing installer: %q", warn.String())
	}
}

// TestHarborDryRun: the dry run lists Harbor's commands and no secret, and
// makes neither the stateDir directory nor a password.
func TestHarborDryRun(t *testing.T) {
	_, text := dryRun(t, harborSite(t))
	for _, want := range []string{
		"openssl req -new -key " + install.CertDir + "/tls.key",
		"https://127.0.0.1:",
		"/" + testInstaller,
		"to " + install.Dir + "/harbor.yml.appliance-new (mode 0600",
		"cd " + install.Dir + " && ./install.sh",
		"https://harbor.unit.test/api/v2.0/health",
		"push every image of the bundle to 10.9.0.21:443",
		"to " + hostconf.ContainerdCertsDir + "/.appliance-harbor",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run does not mention %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestHarborSecrets: the inventory's password file must be private and is
// used as is; without it a random password is made once, mode 0600; both
// passwords are masked in everything the redactor filters.
func TestHarborSecrets(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	stateDir := t.TempDir()
	d := s.open(t, stateDir)
	admin, db, err := d.harborSecrets(false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(stateDir, state.HarborAdminPasswordFile))
	if err != nil || fi.Mode().Perm() != 0o600 || len(admin) < 20 || len(db) < 20 || admin == db {
		t.Fatalf("made admin %d chars, db %d chars, file %v %v", len(admin), len(db), fi, err)
	}
	again, db2, err := d.harborSecrets(false)
	if err != nil || again != admin || db2 != db {
		t.Errorf("a second call gave other passwords (%v)", err)
	}
	var buf bytes.Buffer
	w := d.red.Writer(&buf)
	w.Write([]byte("admin=" + admin + " db=" + db + "\n"))
	if strings.Contains(buf.String(), admin) || strings.Contains(buf.String(), db) {
		t.Errorf("the redactor lets a Harbor password through: %s", buf.String())
	}

	file := filepath.Join(t.TempDir(), "harbor.pw")
	if err := os.WriteFile(file, []byte("Fact0ry-Harbor!\nignored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.inv.Harbor.AdminPasswordFile = file
	if _, _, err := d.harborSecrets(false); err == nil || !strings.Contains(err.Error(), "chmod 600 "+file) {
		t.Errorf("a world-readable password file: %v, want an error saying chmod 600", err)
	}
	os.Chmod(file, 0o600)
	if admin, _, err := d.harborSecrets(false); err != nil || admin != "Fact0ry-Harbor!" {
		t.Errorf("admin password from the file = %q, %v", admin, err)
	}
	os.WriteFile(file, []byte("\n"), 0o600)
	if _, _, err := d.harborSecrets(false); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty password file: %v", err)
	}
}

// TestVRRPSecret: the VRRP password is made once per site (8 characters,
// mode 0600 in the stateDir directory), masked, and a stateDir file that is not
// private or not a keepalived-safe password of at most 8 characters is
// refused, naming the file.
func TestVRRPSecret(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	stateDir := t.TempDir()
	d := s.open(t, stateDir)
	pw, err := d.vrrpSecret(false)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(stateDir, state.VRRPPasswordFile)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 || len(pw) != 8 {
		t.Fatalf("made %q, file %v %v; want 8 characters in a 0600 file", pw, fi, err)
	}
	if again, err := d.vrrpSecret(false); err != nil || again != pw {
		t.Errorf("a second call gave %q, %v; want %q", again, err, pw)
	}
	if got := d.red.Redact("auth_pass " + pw); strings.Contains(got, pw) {
		t.Errorf("the VRRP password is not masked: %s", got)
	}
	if _, err := d.haSettings(s.inv.Hosts[0], false); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"toolong-9", "has space", "quo\"te", "a{b}"} {
		os.WriteFile(file, []byte(bad+"\n"), 0o600)
		if _, err := d.vrrpSecret(false); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("state file holding %q: %v, want a refusal naming %s", bad, err, file)
		}
	}
	os.WriteFile(file, []byte("Ab3dEf7h\n"), 0o600)
	os.Chmod(file, 0o644)
	if _, err := d.vrrpSecret(false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable VRRP password file: %v", err)
	}
}

// signingPair is a new signer and its public key.
func signingPair(t *testing.T) (*signing.Signer, []byte, error) {
	t.Helper()
	priv, pub, err := signing.GenerateKeyPair([]byte(testKeyPass))
	if err != nil {
		return nil, nil, err
	}
	s, err := signing.ParseSigner("test key", priv, func() ([]byte, error) { return []byte(testKeyPass), nil })
	return s, pub, err
}
