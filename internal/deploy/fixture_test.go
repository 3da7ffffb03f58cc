package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/deploy/sitetest"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/signing"
)

// testSite is a deployment's inputs on this machine: a signed fixture
// bundle with one yum repo, its public key, and an inventory of three hosts
// whose deploy node is 127.0.0.1 (so the site server can start here).
type testSite struct {
	dir, bundle, pub string
	inv              *inventory.Inventory
	seedPort         int
	signer           *signing.Signer // signs s.bundle
}

const testKeyPass = "test-key-password"

func newTestSite(t *testing.T, annotations map[string]string) *testSite {
	t.Helper()
	dir := t.TempDir()
	priv, pub, err := signing.GenerateKeyPair([]byte(testKeyPass))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.ParseSigner("test key", priv, func() ([]byte, error) { return []byte(testKeyPass), nil })
	if err != nil {
		t.Fatal(err)
	}
	s := &testSite{dir: dir, bundle: filepath.Join(dir, "site.bundle"), pub: filepath.Join(dir, "cosign.pub"), seedPort: freePort(t), signer: signer}
	writeFile(t, s.pub, pub)
	files := []sitetest.File{
		{Path: "repos/fixture/Packages/chain-a-1.0-1.x86_64.rpm", Kind: bundle.KindRPM, Data: []byte("not really an rpm")},
		{Path: "repos/fixture/Packages/cron-lite-1.0-1.x86_64.rpm", Kind: bundle.KindRPM, Data: []byte("not really an rpm either")},
		{Path: "repos/fixture/repodata/repomd.xml", Kind: bundle.KindRepodata, Data: []byte("<repomd/>")},
		{Path: "repos/fixture/keys/RPM-GPG-KEY-fixture", Kind: bundle.KindKey, Data: []byte("key")},
	}
	if err := sitetest.WriteBundle(s.bundle, sitetest.Spec{Files: files, Component: "fixture", Annotations: annotations, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	writeFile(t, key, []byte("unused: the unit tests never dial"))
	inv := fmt.Sprintf(`apiVersion: appliance/v1
kind: Inventory
site: unit
ssh: {user: root, keyFile: %s, knownHosts: %s}
hosts:
  - {name: master-1, address: 10.9.0.11, roles: [master]}
  - {name: master-2, address: 10.9.0.12, roles: [master]}
  - {name: worker-1, address: 10.9.0.21, roles: [worker, registry]}
deployNode: {address: 127.0.0.1}
apiserver: {vip: 10.9.0.100, port: 6443, interface: eth0}
ntp: [10.9.0.1]
harbor: {hostname: harbor.unit.test}
`, key, filepath.Join(dir, "known_hosts"))
	s.inv, err = inventory.Parse(filepath.Join(dir, "inventory.yaml"), []byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// config is a Config for the test site with its state in stateDir.
func (s *testSite) config(stateDir string) Config {
	return Config{BundlePath: s.bundle, KeyPath: s.pub, Inventory: s.inv, StateDir: stateDir, SeedPort: s.seedPort}
}

func (s *testSite) open(t *testing.T, stateDir string) *Deployment {
	t.Helper()
	d, err := Open(s.config(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
