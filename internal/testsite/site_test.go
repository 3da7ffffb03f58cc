//go:build site

package testsite

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestSite brings a real site up (go test -tags site ./internal/testsite/)
// and checks what the deployer relies on: the air gap, SSH with the site's
// key and recorded host keys, the EL tool chain, sudo, dnf, VRRP, containerd,
// NTP from the deploy node, and a host dropping off the network and back.
func TestSite(t *testing.T) {
	s := Up(t, "testsite")
	t.Run("AirGap", func(t *testing.T) { testAirGap(t, s) })
	t.Run("InventoryLoads", func(t *testing.T) { testInventory(t, s) })
	t.Run("SSHWithKnownHosts", func(t *testing.T) { testSSH(t, s) })
	t.Run("ChangedHostKeyRefused", func(t *testing.T) { testChangedHostKey(t, s) })
	t.Run("Tools", func(t *testing.T) { testTools(t, s) })
	t.Run("TestHostMarker", func(t *testing.T) { testMarker(t, s) })
	t.Run("SudoAsAdmin", func(t *testing.T) { testSudo(t, s) })
	t.Run("DNFInstallsRPM", func(t *testing.T) { testDNF(t, s) })
	t.Run("KeepalivedVIP", func(t *testing.T) { testVIP(t, s) })
	t.Run("Containerd", func(t *testing.T) { testContainerd(t, s) })
	t.Run("NTPFromDeployNode", func(t *testing.T) { testNTP(t, s) })
	t.Run("DisconnectReconnect", func(t *testing.T) { testDisconnect(t, s) })
	t.Run("Reboot", func(t *testing.T) { testReboot(t, s) })
	t.Run("CATrust", func(t *testing.T) { testCATrust(t, s) })
	t.Run("UpIsIdempotent", func(t *testing.T) { testIdempotent(t, s) })
}

func mustExec(t *testing.T, s *Site, host string, cmd ...string) string {
	t.Helper()
	out, err := s.Exec(host, cmd...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sshFromDeploy runs cmd on addr as user over SSH from the deploy node, with
// host keys checked strictly against knownHosts.
func sshFromDeploy(s *Site, user, addr, knownHosts, cmd string, stdin []byte) (string, error) {
	args := []string{"ssh", "-i", s.KeyFile(),
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		user + "@" + addr, cmd}
	if stdin == nil {
		return s.DeployExec(args...)
	}
	return s.ExecInput(DeployHost, bytes.NewReader(stdin), args...)
}

func testAirGap(t *testing.T, s *Site) {
	out, err := exec.Command("docker", "network", "inspect", "-f", "{{.Internal}}", s.Network).Output()
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Errorf("network %s: Internal = %q (%v), want true", s.Network, out, err)
	}
	for _, h := range s.Hosts {
		if r := mustExec(t, s, h.Name, "ip", "-4", "route", "show", "default"); strings.TrimSpace(r) != "" {
			t.Errorf("%s has a default route %q", h.Name, r)
		}
		// A routing decision only: ip route get sends no packet.
		if _, err := s.Exec(h.Name, "ip", "route", "get", "192.0.2.1"); err == nil {
			t.Errorf("%s has a route to 192.0.2.1 (outside the site)", h.Name)
		}
		if r := mustExec(t, s, h.Name, "cat", "/etc/resolv.conf"); strings.Contains(r, "nameserver") {
			t.Errorf("%s has a name server:\n%s", h.Name, r)
		}
	}
}

// testInventory loads the written inventory with the deployer's own parser
// and checks it describes the site.
func testInventory(t *testing.T, s *Site) {
	inv, err := inventory.Load(s.InventoryPath())
	if err != nil {
		t.Fatal(err)
	}
	deploy, err := s.Host(DeployHost)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Site != s.Name || inv.DeployNode.Address != deploy.Address || inv.APIServer.VIP != s.VIP {
		t.Errorf("inventory site %q deploy node %q VIP %q, want %q %q %q",
			inv.Site, inv.DeployNode.Address, inv.APIServer.VIP, s.Name, deploy.Address, s.VIP)
	}
	if len(inv.NTP) != 1 || inv.NTP[0] != deploy.Address {
		t.Errorf("inventory ntp %v, want [%s]", inv.NTP, deploy.Address)
	}
	targets := s.Targets()
	if len(inv.Hosts) != len(targets) {
		t.Fatalf("inventory has %d hosts, the site %d", len(inv.Hosts), len(targets))
	}
	for i, h := range inv.Hosts {
		want := targets[i]
		if h.Name != want.Name || h.Address != want.Address || len(h.Roles) != 1 || string(h.Roles[0]) != want.Role {
			t.Errorf("inventory host %d = %s %s %v, want %s %s [%s]", i, h.Name, h.Address, h.Roles, want.Name, want.Address, want.Role)
		}
		if h.KeyFile != s.KeyFile() || h.User != "root" {
			t.Errorf("inventory host %s: user %q key %q, want root %q", h.Name, h.User, h.KeyFile, s.KeyFile())
		}
	}
	if inv.SSH.KnownHosts != s.KnownHosts() {
		t.Errorf("inventory knownHosts %q, want %q", inv.SSH.KnownHosts, s.KnownHosts())
	}
}

func testSSH(t *testing.T, s *Site) {
	for _, h := range s.Targets() {
		t.Run(h.Name, func(t *testing.T) {
			out, err := sshFromDeploy(s, "root", h.Address, s.KnownHosts(), "hostname", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out); got != h.Name {
				t.Errorf("ssh root@%s hostname = %q, want %q", h.Address, got, h.Name)
			}
		})
	}
}

// testChangedHostKey checks that known_hosts verification is real: master-1
// presenting keys recorded for master-2 is refused.
func testChangedHostKey(t *testing.T, s *Site) {
	m1, m2 := s.Role(RoleMaster)[0], s.Role(RoleMaster)[1]
	kh, err := s.DeployExec("cat", s.KnownHosts())
	if err != nil {
		t.Fatal(err)
	}
	var forged []string
	for _, line := range strings.Split(kh, "\n") {
		if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[0], m2.Name+",") {
			forged = append(forged, m1.Name+","+m1.Address+" "+f[1]+" "+f[2])
		}
	}
	if len(forged) == 0 {
		t.Fatalf("known_hosts has no keys for %s:\n%s", m2.Name, kh)
	}
	path := s.StateDir + "/forged_known_hosts"
	if _, err := s.ExecInput(DeployHost, strings.NewReader(strings.Join(forged, "\n")+"\n"), "sh", "-c", "cat > "+path); err != nil {
		t.Fatal(err)
	}
	_, err = sshFromDeploy(s, "root", m1.Address, path, "true", nil)
	if err == nil || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Errorf("ssh to %s with %s's host keys: err = %v, want host key verification failure", m1.Name, m2.Name, err)
	}
}

func testTools(t *testing.T, s *Site) {
	tools := []struct {
		cmd  string
		want *regexp.Regexp
	}{
		{"yum --version", regexp.MustCompile(`^\d+\.\d+`)},
		{"readlink -f /usr/bin/yum", regexp.MustCompile(`/dnf`)},
		{"rpm --version", regexp.MustCompile(`^RPM version \d`)},
		{"haproxy -v", regexp.MustCompile(`^HAProxy version \d`)},
		{"keepalived --version", regexp.MustCompile(`(?m)^Keepalived v\d`)},
		{"containerd --version", regexp.MustCompile(`^containerd `)},
		{"runc --version", regexp.MustCompile(`^runc version \d`)},
		{"chronyd --version", regexp.MustCompile(`^chronyd \(chrony\) version \d`)},
		{"docker-registry --version", regexp.MustCompile(`^docker-registry \S+ v?\d+\.\d+`)},
		{"update-ca-trust && test -s /etc/ssl/certs/ca-certificates.crt && echo ok", regexp.MustCompile(`^ok$`)},
		// kubeadm 1.26's preflight requires the first five and warns
		// without the others.
		{"for c in conntrack ip iptables mount nsenter socat ethtool ebtables; do command -v $c >/dev/null || echo missing $c; done; echo ok",
			regexp.MustCompile(`^ok$`)},
	}
	for _, h := range s.Targets() {
		for _, tool := range tools {
			t.Run(h.Name+"/"+strings.Fields(tool.cmd)[0], func(t *testing.T) {
				out := mustExec(t, s, h.Name, "sh", "-c", tool.cmd+" 2>&1")
				if !tool.want.MatchString(strings.TrimSpace(out)) {
					t.Errorf("%s on %s: %q does not match %s", tool.cmd, h.Name, out, tool.want)
				}
			})
		}
	}
}

func testMarker(t *testing.T, s *Site) {
	h := s.Targets()[0].Name
	osID := mustExec(t, s, h, "sh", "-c", ". /etc/os-release && echo $ID")
	elID := mustExec(t, s, h, "sh", "-c", ". /etc/appliance-test-host && echo $ID $VERSION_ID $APPLIANCE_TEST_HOST")
	if strings.TrimSpace(osID) != "debian" {
		t.Errorf("/etc/os-release ID = %q, want debian (never replaced)", osID)
	}
	if !regexp.MustCompile(`^rocky 8\.\d+ 1$`).MatchString(strings.TrimSpace(elID)) {
		t.Errorf("/etc/appliance-test-host gives %q, want an EL 8 ID and APPLIANCE_TEST_HOST=1", elID)
	}
}

func testSudo(t *testing.T, s *Site) {
	pw := strings.TrimSpace(mustExec(t, s, DeployHost, "cat", s.AdminPasswordFile()))
	h := s.Targets()[0]
	out, err := sshFromDeploy(s, "admin", h.Address, s.KnownHosts(), "sudo -S -p '' id -u", []byte(pw+"\n"))
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("admin@%s sudo with the site password: out %q, err %v; want uid 0", h.Name, out, err)
	}
	if _, err := sshFromDeploy(s, "admin", h.Address, s.KnownHosts(), "sudo -n id -u", nil); err == nil {
		t.Errorf("admin@%s sudo without a password succeeded; want it refused", h.Name)
	}
}

// testDNF builds an RPM with a %post scriptlet (so it requires /bin/sh, as
// real packages do) and installs it with yum, which must find /bin/sh in
// the rpmdb and run the scriptlet.
func testDNF(t *testing.T, s *Site) {
	h := s.Role(RoleWorker)[0].Name
	spec := `Name: site-check
Version: 1.0
Release: 1
Summary: test-site dnf check
License: Apache-2.0
BuildArch: noarch
%description
test-site dnf check
%install
mkdir -p %{buildroot}/usr/share/site-check
echo installed > %{buildroot}/usr/share/site-check/file
%post
echo ran > /var/tmp/site-check-post
%files
/usr/share/site-check/file
`
	script := `set -e
d=$(mktemp -d)
cat > $d/site-check.spec
rpmbuild -bb --quiet --define "_topdir $d" $d/site-check.spec
rpm -qp --requires $d/RPMS/noarch/site-check-1.0-1.noarch.rpm | grep -qx /bin/sh
yum -y -q install $d/RPMS/noarch/site-check-1.0-1.noarch.rpm >/dev/null 2>&1 || yum -y install $d/RPMS/noarch/site-check-1.0-1.noarch.rpm
rm -rf $d
rpm -q site-check
cat /var/tmp/site-check-post
yum -y -q remove site-check >/dev/null
rm -f /var/tmp/site-check-post`
	out, err := s.ExecInput(h, strings.NewReader(spec), "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	if want := "site-check-1.0-1.noarch\nran\n"; out != want {
		t.Errorf("yum install on %s: output %q, want %q", h, out, want)
	}
}

func testVIP(t *testing.T, s *Site) {
	masters := s.Role(RoleMaster)
	for i, m := range masters {
		conf := fmt.Sprintf(`vrrp_instance site_check {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  advert_int 1
  virtual_ipaddress {
    %s/32
  }
}
`, 200-10*i, s.VIP)
		script := "set -e; cat > /etc/keepalived/keepalived.conf; keepalived --config-test -f /etc/keepalived/keepalived.conf; systemctl restart keepalived"
		if _, err := s.ExecInput(m.Name, strings.NewReader(conf), "sh", "-c", script); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, m := range masters {
			_, _ = s.Exec(m.Name, "sh", "-c", "systemctl stop keepalived; rm -f /etc/keepalived/keepalived.conf")
		}
	})
	var holders []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		holders = holders[:0]
		for _, m := range masters {
			if addrs := mustExec(t, s, m.Name, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); strings.Contains(addrs, " "+s.VIP+"/") {
				holders = append(holders, m.Name)
			}
		}
		if len(holders) == 1 && holders[0] == masters[0].Name {
			return
		}
	}
	t.Errorf("VIP %s held by %v, want only %s (the highest VRRP priority)", s.VIP, holders, masters[0].Name)
}

// testContainerd starts containerd in a master, imports a one-layer image
// (dash and its libraries, taken from the host) and runs it with the
// overlayfs snapshotter, which is what a real node uses.
func testContainerd(t *testing.T, s *Site) {
	h := s.Role(RoleMaster)[0].Name
	mustExec(t, s, h, "systemctl", "start", "containerd")
	t.Cleanup(func() { _, _ = s.Exec(h, "systemctl", "stop", "containerd") })
	waitFor(t, 30*time.Second, func() error { _, err := s.Exec(h, "ctr", "version"); return err })

	const ref = "site.test/containerd-check:1"
	archive := dashImage(t, s, h, ref)
	const ns = "appliance-site-test"
	if _, err := s.ExecInput(h, bytes.NewReader(archive), "ctr", "-n", ns, "image", "import", "-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.Exec(h, "ctr", "-n", ns, "image", "rm", ref) })
	run := func(snapshotter string) (string, error) {
		return s.Exec(h, "ctr", "-n", ns, "run", "--rm", "--snapshotter", snapshotter, ref,
			"site-check-"+snapshotter, "/usr/bin/dash", "-c", "echo containerd-ok")
	}
	out, err := run("overlayfs")
	if err != nil {
		_, nativeErr := run("native")
		t.Fatalf("containerd with overlayfs: %v (with native: %v)", err, nativeErr)
	}
	if strings.TrimSpace(out) != "containerd-ok" {
		t.Errorf("container output %q, want containerd-ok", out)
	}
}

// dashImage builds a docker-archive image of /usr/bin/dash and the
// libraries ldd lists for it, read from host.
func dashImage(t *testing.T, s *Site, host, ref string) []byte {
	t.Helper()
	layerTar := mustExec(t, s, host, "sh", "-c",
		`tar -ch -C / usr/bin/dash $(ldd /usr/bin/dash | grep -o '/[^ ]*' | sed 's|^/||') 2>/dev/null`)
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(layerTar)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config.Cmd = "linux", runtime.GOARCH, []string{"/usr/bin/dash"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testNTP asks the deploy node for the time from a master, the way chronyd
// on a prepared host will, without setting any clock (chronyd -Q).
func testNTP(t *testing.T, s *Site) {
	h := s.Role(RoleMaster)[0].Name
	deploy, err := s.Host(DeployHost)
	if err != nil {
		t.Fatal(err)
	}
	out := mustExec(t, s, h, "sh", "-c",
		fmt.Sprintf("chronyd -Q -t 20 -f /dev/null 'server %s iburst maxsamples 1' 2>&1", deploy.Address))
	if !strings.Contains(out, "System clock wrong by") {
		t.Errorf("%s asking %s for the time: %q, want an offset", h, deploy.Address, out)
	}
}

func testDisconnect(t *testing.T, s *Site) {
	w := s.Role(RoleWorker)[0]
	deploy, err := s.Host(DeployHost)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Disconnect(w.Name); err != nil {
		t.Fatal(err)
	}
	reconnected := false
	t.Cleanup(func() {
		if !reconnected {
			_ = s.Reconnect(w.Name)
		}
	})
	if _, err := sshFromDeploy(s, "root", w.Address, s.KnownHosts(), "true", nil); err == nil {
		t.Errorf("ssh to disconnected %s succeeded", w.Name)
	}
	if _, err := s.Exec(w.Name, "ping", "-c", "1", "-W", "1", deploy.Address); err == nil {
		t.Errorf("disconnected %s reached the deploy node", w.Name)
	}
	if err := s.Disconnect(w.Name); err != nil {
		t.Errorf("second Disconnect: %v, want idempotent", err)
	}
	if err := s.Reconnect(w.Name); err != nil {
		t.Fatal(err)
	}
	reconnected = true
	var out string
	waitFor(t, 20*time.Second, func() (err error) {
		out, err = sshFromDeploy(s, "root", w.Address, s.KnownHosts(), "hostname; ip -4 route show default; ip -o -4 addr show dev eth0", nil)
		return err
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != w.Name || !strings.Contains(lines[1], " "+w.Address+"/") {
		t.Errorf("reconnected %s: got %q, want its name, no default route, and %s on eth0", w.Name, out, w.Address)
	}
}

// testReboot checks that a reboot keeps what was written to the host and
// what was enabled, keeps the host keys, and restores the air gap.
func testReboot(t *testing.T, s *Site) {
	h := s.Role(RoleWorker)[0]
	setup := `set -e
echo "10.0.0.1 harbor.site.test" >> /etc/hosts
printf 'global\n  log stdout local0\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend check\n  bind 127.0.0.1:16443\n  default_backend none\nbackend none\n  server s1 127.0.0.1:1\n' > /etc/haproxy/haproxy.cfg
haproxy -c -q -f /etc/haproxy/haproxy.cfg
systemctl enable haproxy 2>/dev/null`
	mustExec(t, s, h.Name, "sh", "-c", setup)
	t.Cleanup(func() {
		_, _ = s.Exec(h.Name, "sh", "-c", "systemctl disable --now haproxy 2>/dev/null; sed -i '/harbor.site.test/d' /etc/hosts")
	})
	if err := s.Reboot(h.Name); err != nil {
		t.Fatal(err)
	}
	if hosts := mustExec(t, s, h.Name, "cat", "/etc/hosts"); !strings.Contains(hosts, "harbor.site.test") {
		t.Errorf("/etc/hosts lost the deployer's entry over a reboot:\n%s", hosts)
	}
	waitFor(t, 30*time.Second, func() error {
		_, err := s.Exec(h.Name, "systemctl", "is-active", "haproxy")
		return err
	})
	if out, err := sshFromDeploy(s, "root", h.Address, s.KnownHosts(), "hostname", nil); err != nil || strings.TrimSpace(out) != h.Name {
		t.Errorf("ssh with the recorded host keys after a reboot: %q, %v", out, err)
	}
}

// testCATrust installs a CA the EL way (anchors + update-ca-trust) and
// checks that it lands in the bundle that curl and dnf read, and leaves it
// again when removed.
func testCATrust(t *testing.T, s *Site) {
	h := s.Targets()[0].Name
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-site check CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	const anchor = "/etc/pki/ca-trust/source/anchors/site-check.crt"
	body := strings.Split(string(pemBytes), "\n")[1] // first base64 line
	t.Cleanup(func() { _, _ = s.Exec(h, "sh", "-c", "rm -f "+anchor+" && update-ca-trust extract") })
	if _, err := s.ExecInput(h, bytes.NewReader(pemBytes), "sh", "-c", "cat > "+anchor+" && update-ca-trust extract"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(h, "grep", "-qF", body, "/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Errorf("update-ca-trust did not add the anchor to the trust bundle: %v", err)
	}
	if _, err := s.Exec(h, "sh", "-c", "rm -f "+anchor+" && update-ca-trust extract"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(h, "grep", "-qF", body, "/etc/ssl/certs/ca-certificates.crt"); err == nil {
		t.Error("update-ca-trust kept a removed anchor in the trust bundle")
	}
}

// testIdempotent starts the running site again: it must be kept as it is,
// with the same subnet, key and host keys.
func testIdempotent(t *testing.T, s *Site) {
	before, err := os.ReadFile(s.KnownHosts())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	again, err := Start(ctx, s.Name, WithStateDir(s.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(s.KnownHosts())
	if err != nil {
		t.Fatal(err)
	}
	if again.Subnet != s.Subnet || again.Image != s.Image || !bytes.Equal(before, after) {
		t.Errorf("second Start changed the site: subnet %s -> %s, image %s -> %s, known_hosts equal: %v",
			s.Subnet, again.Subnet, s.Image, again.Image, bytes.Equal(before, after))
	}
}

func waitFor(t *testing.T, d time.Duration, ready func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = ready(); err == nil {
			return
		}
	}
	t.Fatalf("not ready after %v: %v", d, err)
}
