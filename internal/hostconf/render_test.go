package hostconf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// need returns the path of tool, failing the test with the Debian package
// that provides it when it is missing.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
				return filepath.Join(dir, tool)
			}
		}
		t.Fatalf("%s not found: install the Debian package %s", tool, pkg)
	}
	return p
}

func testHA(self int) HA {
	masters := []inventory.Host{
		{Name: "master-1", Address: "10.9.0.11"},
		{Name: "master-2", Address: "10.9.0.12"},
		{Name: "master-3", Address: "10.9.0.13"},
	}
	return HA{Site: "unit", VIP: "10.9.0.100", Port: 6443, Interface: "eth0", Self: masters[self], Masters: masters, AuthPass: "Ab3dEf7h"}
}

// testHA6 is testHA on an IPv6 network.
func testHA6(self int) HA {
	masters := []inventory.Host{
		{Name: "master-1", Address: "fd00:9::11"},
		{Name: "master-2", Address: "fd00:9::12"},
		{Name: "master-3", Address: "fd00:9::13"},
	}
	return HA{Site: "unit", VIP: "fd00:9::100", Port: 6443, Interface: "eth0", Self: masters[self], Masters: masters, AuthPass: "Ab3dEf7h"}
}

// TestHAProxyConfigPassesHAProxy validates the rendered haproxy.cfg with
// the real haproxy -c.
func TestHAProxyConfigPassesHAProxy(t *testing.T) {
	haproxy := need(t, "haproxy", "haproxy")
	cfg := RenderHAProxy(testHA(0))
	f := filepath.Join(t.TempDir(), "haproxy.cfg")
	writeFile(t, f, cfg)
	if out, err := exec.Command(haproxy, "-c", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	for _, want := range []string{"bind 10.9.0.100:6443", "server master-1 10.9.0.11:6443 check", "server master-3 10.9.0.13:6443 check"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("haproxy.cfg lacks %q:\n%s", want, cfg)
		}
	}
}

// TestKeepalivedConfigPassesKeepalived validates the rendered
// keepalived.conf of every master with keepalived's own config test.
func TestKeepalivedConfigPassesKeepalived(t *testing.T) {
	keepalived := need(t, "keepalived", "keepalived")
	prios := map[string]bool{}
	for i := range 3 {
		a := testHA(i)
		cfg := RenderKeepalived(a)
		f := filepath.Join(t.TempDir(), "keepalived.conf")
		writeFile(t, f, cfg)
		if out, err := exec.Command(keepalived, "--config-test", "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("keepalived --config-test: %v\n%s\n%s", err, out, cfg)
		}
		if !strings.Contains(cfg, "10.9.0.100/32 dev eth0") || !strings.Contains(cfg, "unicast_src_ip "+a.Self.Address) {
			t.Errorf("keepalived.conf of %s:\n%s", a.Self.Name, cfg)
		}
		if strings.Contains(cfg, "    "+a.Self.Address+"\n") {
			t.Errorf("%s lists itself as a unicast peer", a.Self.Name)
		}
		prios[strings.Split(strings.SplitAfter(cfg, "priority ")[1], "\n")[0]] = true
	}
	if len(prios) != 3 {
		t.Errorf("masters share VRRP priorities: %v", prios)
	}
	if id := testHA(0).RouterID(); id < 1 || id > 255 {
		t.Errorf("router id %d out of 1..255", id)
	}
}

// TestKeepalivedAuthAndFamily: over IPv4 the VRRP adverts carry the site's
// password (auth_type PASS, which keepalived cuts to 8 characters) and are
// taken only from the other masters; an IPv6 VIP is a /128, and VRRPv3,
// which IPv6 needs, has no authentication, so none is written (keepalived's
// config test refuses it). Both pass keepalived --config-test.
func TestKeepalivedAuthAndFamily(t *testing.T) {
	keepalived := need(t, "keepalived", "keepalived")
	for _, c := range []struct {
		name     string
		ha       HA
		want     []string
		wantNone []string
	}{
		{"ipv4", testHA(1), []string{"10.9.0.100/32 dev eth0", "auth_type PASS", "auth_pass Ab3dEf7h", "check_unicast_src"}, nil},
		{"ipv6", testHA6(1), []string{"fd00:9::100/128 dev eth0", "unicast_src_ip fd00:9::12", "check_unicast_src"}, []string{"/32", "authentication", "Ab3dEf7h"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := RenderKeepalived(c.ha)
			for _, w := range c.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("keepalived.conf lacks %q:\n%s", w, cfg)
				}
			}
			for _, w := range c.wantNone {
				if strings.Contains(cfg, w) {
					t.Errorf("keepalived.conf holds %q:\n%s", w, cfg)
				}
			}
			f := filepath.Join(t.TempDir(), "keepalived.conf")
			writeFile(t, f, cfg)
			if out, err := exec.Command(keepalived, "--config-test", "-f", f).CombinedOutput(); err != nil {
				t.Fatalf("keepalived --config-test: %v\n%s\n%s", err, out, cfg)
			}
		})
	}
}

// TestContainerdConfigLoads loads the rendered config.toml with the real
// containerd (config dump parses it and fills in defaults) and checks that
// the registry config_path survives.
func TestContainerdConfigLoads(t *testing.T) {
	containerd := need(t, "containerd", "containerd")
	f := filepath.Join(t.TempDir(), "config.toml")
	for _, s := range []ContainerdSettings{
		{SandboxImage: DefaultSandboxImage, SystemdCgroup: true},
		{SandboxImage: "registry.k8s.io/pause:3.10.1", RestrictOOMScoreAdj: true},
	} {
		writeFile(t, f, RenderContainerdConfig(s))
		out, err := exec.Command(containerd, "--config", f, "config", "dump").CombinedOutput()
		if err != nil {
			t.Fatalf("containerd config dump: %v\n%s", err, out)
		}
		for _, want := range []string{`config_path = "/etc/containerd/certs.d"`,
			fmt.Sprintf("SystemdCgroup = %t", s.SystemdCgroup),
			fmt.Sprintf("restrict_oom_score_adj = %t", s.RestrictOOMScoreAdj),
			fmt.Sprintf("sandbox_image = %q", s.SandboxImage)} {
			if !strings.Contains(string(out), want) {
				t.Errorf("containerd's view of config.toml (%+v) lacks %q", s, want)
			}
		}
	}
}

func TestHostsToml(t *testing.T) {
	for _, c := range []struct{ registry, server string }{
		{"docker.io", `server = "https://registry-1.docker.io"`},
		{"quay.io", `server = "https://quay.io"`},
		{"registry.factory.example", `server = "https://registry.factory.example"`},
	} {
		got := RenderHostsToml(c.registry, "https://10.9.0.10:5443", HostCA)
		for _, want := range []string{c.server, `[host."https://10.9.0.10:5443"]`, `capabilities = ["pull", "resolve"]`, `ca = "` + HostCA + `"`} {
			if !strings.Contains(got, want) {
				t.Errorf("hosts.toml for %s lacks %q:\n%s", c.registry, want, got)
			}
		}
		if strings.Contains(got, "override_path") {
			t.Errorf("hosts.toml for the seed, which serves every registry at /v2/, overrides the path:\n%s", got)
		}
	}
	idx := &bundle.Index{Images: []bundle.Image{
		{Name: "docker.io/calico/node:v3.26.4"}, {Name: "quay.io/prometheus/node-exporter:v1"},
		{Name: "docker.io/library/nginx:1.25"}, {Name: "registry.factory.example/library/app:1.0"},
	}}
	if got := strings.Join(SourceRegistries(idx), " "); got != "docker.io quay.io registry.factory.example" {
		t.Errorf("SourceRegistries = %s", got)
	}
}

func TestRenderHostsIsIdempotent(t *testing.T) {
	inv := &inventory.Inventory{
		Hosts: []inventory.Host{
			{Name: "master-1", Address: "10.9.0.11", Roles: []inventory.Role{inventory.RoleMaster}},
			{Name: "worker-1", Address: "10.9.0.21", Roles: []inventory.Role{inventory.RoleWorker, inventory.RoleRegistry}},
		},
		DeployNode: inventory.DeployNode{Address: "10.9.0.10"},
		Harbor:     inventory.Harbor{Hostname: "harbor.unit.test"},
	}
	entries := HostsEntries(inv)
	wantEntries := []string{"10.9.0.11 master-1", "10.9.0.21 worker-1", "10.9.0.10 " + SeedHostname, "10.9.0.21 harbor.unit.test"}
	if strings.Join(entries, "|") != strings.Join(wantEntries, "|") {
		t.Errorf("HostsEntries = %q, want %q", entries, wantEntries)
	}
	orig := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n10.9.0.11\tmaster-1\n"
	once := RenderHosts(orig, entries)
	if twice := RenderHosts(once, entries); twice != once {
		t.Errorf("rendering twice changed /etc/hosts:\n%s\n---\n%s", once, twice)
	}
	if !strings.HasPrefix(once, orig) {
		t.Errorf("lines outside the block were not kept:\n%s", once)
	}
	changed := RenderHosts(once, entries[:1])
	if strings.Contains(changed, "harbor.unit.test") || strings.Count(changed, HostsBegin) != 1 {
		t.Errorf("the block was not replaced:\n%s", changed)
	}
	if RenderHosts("", entries) != HostsBegin+"\n"+strings.Join(entries, "\n")+"\n"+HostsEnd+"\n" {
		t.Errorf("block on an empty file:\n%s", RenderHosts("", entries))
	}
}

func TestRepoFile(t *testing.T) {
	idx := &bundle.Index{Name: "stack", Version: "1.0"}
	repos := []Repo{{ID: "base", Keys: []string{"RPM-GPG-KEY-a", "RPM-GPG-KEY-b"}}, {ID: "extras"}}
	got := RenderRepoFile(idx, repos, "https://10.9.0.10:5443")
	for _, want := range []string{
		"[appliance-base]", "baseurl=https://10.9.0.10:5443/repos/base/", "gpgcheck=1",
		"gpgkey=file:///etc/pki/rpm-gpg/appliance-base-RPM-GPG-KEY-a file:///etc/pki/rpm-gpg/appliance-base-RPM-GPG-KEY-b",
		"[appliance-extras]", "sslcacert=" + HostCA, "skip_if_unavailable=0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("repo file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains("\n"+got, "\ngpgcheck=0") {
		t.Error("repo file turns gpgcheck off")
	}
}

func TestHarborHostsToml(t *testing.T) {
	got := RenderHostsToml("registry.k8s.io", "https://harbor.site:8443/v2/registry.k8s.io", HostCA)
	for _, want := range []string{
		`server = "https://registry.k8s.io"`,
		`[host."https://harbor.site:8443/v2/registry.k8s.io"]`,
		`override_path = true`,
		`capabilities = ["pull", "resolve"]`,
		`ca = "` + HostCA + `"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts.toml lacks %q:\n%s", want, got)
		}
	}
}
