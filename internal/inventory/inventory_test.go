package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const base = `apiVersion: appliance/v1
kind: Inventory
site: factory-a
ssh:
  user: root
  knownHosts: ~/.ssh/known_hosts
  port: 22
hosts:
  - name: master-1
    address: 10.0.0.11
    roles: [master]
  - name: master-2
    address: 10.0.0.12
    roles: [master]
  - name: master-3
    address: 10.0.0.13
    roles: [master]
  - name: worker-1
    address: 10.0.0.21
    roles: [worker, registry]
    user: ops
deployNode:
  address: 10.0.0.5
apiserver:
  vip: 10.0.0.10
  interface: eth0
network:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
ntp: [10.0.0.1]
storage:
  nfs:
    server: 10.0.0.40
    path: /export
  ceph:
    monitors: ["10.0.0.50:6789"]
harbor:
  hostname: harbor.factory.local
`

// edit replaces the n-th (1-based) occurrence of old with new.
func edit(doc, old, new string, n int) string {
	idx := -1
	for range n {
		next := strings.Index(doc[idx+1:], old)
		if next < 0 {
			panic("test edit: " + old + " not found")
		}
		idx += 1 + next
	}
	return doc[:idx] + new + doc[idx+len(old):]
}

// lineOf returns the 1-based line of the n-th occurrence of s.
func lineOf(doc, s string, n int) int {
	idx := -1
	for range n {
		idx += 1 + strings.Index(doc[idx+1:], s)
	}
	return strings.Count(doc[:idx], "\n") + 1
}

func parse(t *testing.T, doc string) (*Inventory, error) {
	t.Helper()
	return Parse(filepath.Join(t.TempDir(), "inventory.yaml"), []byte(doc))
}

func TestValidInventory(t *testing.T) {
	t.Setenv("HOME", "/home/deployer")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cosign.pub"), []byte("key"), 0o600)
	doc := edit(base, "site: factory-a\n", "site: factory-a\nbundleKey: cosign.pub\n", 1)
	doc = edit(doc, "    user: ops\n", "    user: ops\n    hostKey: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\n", 1)
	path := filepath.Join(dir, "inv.yaml")
	os.WriteFile(path, []byte(doc), 0o600)
	inv, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if inv.BundleKey != filepath.Join(dir, "cosign.pub") || inv.SSH.KnownHosts != "/home/deployer/.ssh/known_hosts" {
		t.Errorf("paths: bundleKey %s knownHosts %s", inv.BundleKey, inv.SSH.KnownHosts)
	}
	if got := len(inv.HostsWithRole(RoleMaster)); got != 3 {
		t.Errorf("%d masters", got)
	}
	reg, ok := inv.Registry()
	if !ok || reg.Name != "worker-1" {
		t.Errorf("registry = %v %v", reg.Name, ok)
	}
	m1, _ := inv.Host("master-1")
	if m1.Port != 22 || m1.User != "root" || m1.UsesSudo() {
		t.Errorf("master-1 defaults: %+v", m1)
	}
	cfg := inv.SSHConfig(reg)
	if cfg.User != "ops" || !cfg.Sudo || cfg.Port != 22 || cfg.HostKey == "" || cfg.KnownHostsFile != inv.SSH.KnownHosts {
		t.Errorf("SSHConfig(worker-1) = %+v", cfg)
	}
	if inv.Kubernetes.CgroupDriver != CgroupSystemd {
		t.Errorf("cgroup driver %q, want the default %q", inv.Kubernetes.CgroupDriver, CgroupSystemd)
	}
	if inv.APIServer.Port != DefaultAPIServerPort || len(inv.Warnings) != 0 {
		t.Errorf("apiserver port %d, warnings %v", inv.APIServer.Port, inv.Warnings)
	}
}

func TestJumpHostDefaults(t *testing.T) {
	doc := edit(base, "  port: 22\n", "  port: 22\n  jumpHost: {address: bastion.factory.local}\n", 1)
	doc = edit(doc, "    user: ops\n", "    user: ops\n    jumpHost: {address: 10.0.0.3, port: 2222, user: jump}\n", 1)
	inv, err := parse(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := inv.Host("master-1")
	if j := inv.SSHConfig(m1).Jump; j == nil || j.Address != "bastion.factory.local" || j.Port != 22 || j.User != "root" {
		t.Errorf("master-1 jump: %+v", j)
	}
	w1, _ := inv.Host("worker-1")
	if j := inv.SSHConfig(w1).Jump; j == nil || j.Address != "10.0.0.3" || j.Port != 2222 || j.User != "jump" {
		t.Errorf("worker-1 jump: %+v", j)
	}
}

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		nth      int    // occurrence of old to edit (default 1)
		all      bool   // edit every occurrence
		at       string // the problem's line holds this text
		atNth    int
		field    string
		msg, fix string
	}{
		{name: "unknown field", old: "    user: ops\n", new: "    user: ops\n    adress: 10.0.0.9\n",
			at: "adress:", field: "hosts[3].adress", msg: `unknown field "adress"`, fix: `did you mean "address"?`},
		{name: "unknown top-level field", old: "ntp:", new: "ntpServers: [x]\nntp:",
			at: "ntpServers", field: "ntpServers", msg: "unknown field", fix: "known fields here: apiVersion"},
		{name: "wrong type", old: "  port: 22", new: "  port: twenty-two", at: "port: twenty", field: "ssh.port",
			msg: "cannot unmarshal !!str `twenty-two` into int", fix: "write a value of the type"},
		{name: "duplicate key", old: "site: factory-a\n", new: "site: factory-a\nsite: factory-b\n",
			at: "site: factory-b", field: "site", msg: `mapping key "site" already defined at line 3`, fix: "keep one"},
		{name: "bad apiVersion", old: "appliance/v1", new: "appliance/v2", at: "apiVersion",
			field: "apiVersion", msg: `apiVersion is "appliance/v2"`, fix: "write apiVersion: appliance/v1"},
		{name: "bad site", old: "site: factory-a", new: "site: Factory A", at: "site:", field: "site", msg: "not a valid name"},
		{name: "duplicate host name", old: "name: master-2", new: "name: master-1", at: "name: master-1", atNth: 2,
			field: "hosts[1].name", msg: `host name "master-1" is also used by hosts[0]`},
		{name: "duplicate address", old: "address: 10.0.0.12", new: "address: 10.0.0.11", at: "address: 10.0.0.11", atNth: 2,
			field: "hosts[1].address", msg: "address 10.0.0.11:22 is also used by hosts[0]"},
		{name: "bad host IP", old: "10.0.0.12", new: "10.0.0.300", at: "10.0.0.300",
			field: "hosts[1].address", msg: `address "10.0.0.300" is not an IP address`},
		{name: "bad host name", old: "name: master-2", new: "name: Master_2", at: "Master_2",
			field: "hosts[1].name", msg: "not a valid hostname"},
		{name: "bad port", old: "  port: 22", new: "  port: 70000", at: "port: 70000", field: "ssh.port", msg: "port 70000 is out of range"},
		{name: "bad user", old: "    user: ops", new: "    user: 'o p s'", at: "o p s", field: "hosts[3].user", msg: "not a valid login name"},
		{name: "bad CIDR", old: "10.244.0.0/16", new: "10.244.0.0/33", at: "podCIDR", field: "network.podCIDR", msg: "is not a CIDR"},
		{name: "CIDR host bits", old: "10.244.0.0/16", new: "10.244.0.1/16", at: "podCIDR", field: "network.podCIDR",
			msg: "has host bits set", fix: "write 10.244.0.0/16"},
		{name: "overlapping CIDRs", old: "10.96.0.0/12", new: "10.244.128.0/20", at: "serviceCIDR",
			field: "network.serviceCIDR", msg: "overlaps pod CIDR 10.244.0.0/16"},
		{name: "host inside pod CIDR", old: "10.244.0.0/16", new: "10.0.0.0/24", at: "address: 10.0.0.11",
			field: "hosts[0].address", msg: "host master-1 address 10.0.0.11 is inside the pod CIDR 10.0.0.0/24"},
		{name: "VIP inside service CIDR", old: "vip: 10.0.0.10", new: "vip: 10.96.0.10", at: "vip:",
			field: "apiserver.vip", msg: "apiserver VIP address 10.96.0.10 is inside the service CIDR"},
		{name: "VIP equals a host", old: "vip: 10.0.0.10", new: "vip: 10.0.0.13", at: "vip:",
			field: "apiserver.vip", msg: "VIP 10.0.0.13 is the address of host master-3"},
		{name: "VIP equals deploy node", old: "vip: 10.0.0.10", new: "vip: 10.0.0.5", at: "vip:",
			field: "apiserver.vip", msg: "VIP 10.0.0.5 is the deploy node's address"},
		{name: "bad VIP", old: "vip: 10.0.0.10", new: "vip: ten", at: "vip:", field: "apiserver.vip", msg: `VIP "ten" is not an IP address`},
		{name: "masters without VIP", old: "  vip: 10.0.0.10\n", new: "", at: "apiserver:",
			field: "apiserver", msg: "3 masters need a virtual IP"},
		{name: "no master", old: "roles: [master]", new: "roles: [worker]", all: true, at: "hosts:", field: "hosts",
			msg: "no host has the master role"},
		{name: "two registries", old: "roles: [master]", new: "roles: [master, registry]", at: "hosts:", field: "hosts",
			msg: "2 hosts have the registry role"},
		{name: "unknown role", old: "[worker, registry]", new: "[worker, registry, etcd]", at: "etcd",
			field: "hosts[3].roles[2]", msg: `unknown role "etcd"`, fix: "use master, worker or registry"},
		{name: "role twice", old: "[worker, registry]", new: "[worker, registry, worker]", at: "[worker, registry, worker]",
			field: "hosts[3].roles[2]", msg: `role "worker" is listed twice`},
		{name: "no roles", old: "    roles: [worker, registry]\n", new: "", at: "name: worker-1",
			field: "hosts[3].roles", msg: "host worker-1 has no roles"},
		{name: "bad fingerprint", old: "    user: ops\n", new: "    user: ops\n    hostKey: SHA256:abc\n", at: "hostKey",
			field: "hosts[3].hostKey", msg: `"SHA256:abc" is not a SHA256 host key fingerprint`, fix: "ssh-keygen -lf"},
		{name: "missing key file", old: "  port: 22\n", new: "  port: 22\n  keyFile: /nonexistent/id_ed25519\n",
			at: "keyFile", field: "ssh.keyFile", msg: "key file /nonexistent/id_ed25519 does not exist and no ssh-agent",
			fix: "remove keyFile to use ssh-agent"},
		{name: "missing bundle key", old: "site: factory-a\n", new: "site: factory-a\nbundleKey: /nonexistent.pub\n",
			at: "bundleKey", field: "bundleKey", msg: "/nonexistent.pub: no such file"},
		{name: "bad deploy node", old: "address: 10.0.0.5", new: "address: deploy", at: "address: deploy",
			field: "deployNode.address", msg: "is not an IP address"},
		{name: "bad ntp", old: "ntp: [10.0.0.1]", new: "ntp: [10.0.0.1, 10.0.0.256]", at: "ntp:",
			field: "ntp[1]", msg: `"10.0.0.256" is not an address`},
		{name: "relative nfs path", old: "path: /export", new: "path: export", at: "path: export",
			field: "storage.nfs.path", msg: "not an absolute path"},
		{name: "ceph monitor without port", old: `["10.0.0.50:6789"]`, new: `["10.0.0.50"]`, at: "monitors",
			field: "storage.ceph.monitors[0]", msg: "is not host:port"},
		{name: "ceph cluster id not a uuid", old: `["10.0.0.50:6789"]`, new: `["10.0.0.50:6789"]` + "\n    clusterID: my-ceph", at: "clusterID",
			field: "storage.ceph.clusterID", msg: `"my-ceph" is not a UUID`},
		{name: "bad harbor hostname", old: "harbor.factory.local", new: "harbor_factory", at: "hostname:",
			field: "harbor.hostname", msg: `Harbor hostname "harbor_factory" is not a DNS name`},
		{name: "bad harbor port", old: "  hostname: harbor.factory.local\n", new: "  hostname: harbor.factory.local\n  port: 70000\n", at: "port: 70000",
			field: "harbor.port", msg: "Harbor port 70000 is out of range"},
		{name: "relative harbor data volume", old: "  hostname: harbor.factory.local\n", new: "  hostname: harbor.factory.local\n  dataVolume: data/\n", at: "dataVolume",
			field: "harbor.dataVolume", msg: `"data/" is not a clean absolute directory`},
		{name: "bad cgroup driver", old: "harbor:\n", new: "kubernetes:\n  cgroupDriver: cgroups\nharbor:\n", at: "cgroupDriver",
			field: "kubernetes.cgroupDriver", msg: `cgroup driver "cgroups" is neither systemd nor cgroupfs`, fix: "cgroupfs"},
		{name: "unknown backup destination", old: "harbor:\n", new: "backup:\n  etcd: {to: s3}\nharbor:\n", at: "to: s3",
			field: "backup.etcd.to", msg: `"s3" is not a backup destination`, fix: "write local or nfs"},
		{name: "backup to nfs without nfs", old: "storage:\n  nfs:\n    server: 10.0.0.40\n    path: /export\n", new: "backup:\n  etcd: {to: nfs}\nstorage:\n", at: "to: nfs",
			field: "backup.etcd.to", msg: "storage.nfs names no export", fix: "add storage.nfs"},
		{name: "backup dir with nfs", old: "harbor:\n", new: "backup:\n  etcd: {to: nfs, dir: /srv/b}\nharbor:\n", at: "dir: /srv/b",
			field: "backup.etcd.dir", msg: `dir "/srv/b" with to: nfs`, fix: "remove dir:"},
		{name: "relative backup dir", old: "harbor:\n", new: "backup:\n  etcd: {dir: backups}\nharbor:\n", at: "dir: backups",
			field: "backup.etcd.dir", msg: "not an absolute path"},
		{name: "backup keep out of range", old: "harbor:\n", new: "backup:\n  etcd: {keep: 1000}\nharbor:\n", at: "keep: 1000",
			field: "backup.etcd.keep", msg: "keep is 1000", fix: "from 1 to 366"},
		{name: "bad jump host", old: "  port: 22\n", new: "  port: 22\n  jumpHost:\n    address: 'not an address'\n",
			at: "not an address", field: "ssh.jumpHost.address", msg: "is not an address"},
		{name: "syntax error", old: "    user: ops", new: "\tuser: ops", at: "\tuser",
			msg: "found character that cannot start any token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			doc := edit(base, tc.old, tc.new, max(tc.nth, 1))
			if tc.all {
				doc = strings.ReplaceAll(base, tc.old, tc.new)
			}
			_, err := parse(t, doc)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			wantLine := lineOf(doc, tc.at, max(tc.atNth, 1))
			for _, p := range ve.Problems {
				if strings.Contains(p.Message, tc.msg) && p.Field == tc.field && strings.Contains(p.Fix, tc.fix) {
					if p.Line != wantLine {
						t.Errorf("problem at line %d, want %d (%q): %s", p.Line, wantLine, tc.at, p)
					}
					if !strings.Contains(err.Error(), "inventory.yaml:") {
						t.Errorf("error lacks file:line: %v", err)
					}
					return
				}
			}
			t.Errorf("no problem with field %q, message %q and fix %q in:\n%v", tc.field, tc.msg, tc.fix, err)
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	doc := edit(base, "10.0.0.12", "10.0.0.300", 1)
	doc = edit(doc, "10.96.0.0/12", "10.244.0.0/20", 1)
	doc = edit(doc, "harbor.factory.local", "harbor_x", 1)
	_, err := parse(t, doc)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	for i := 1; i < len(ve.Problems); i++ {
		if ve.Problems[i].Line == ve.Problems[i-1].Line {
			t.Errorf("two problems on one line: %v", ve.Problems)
		}
	}
}

func TestMissingKeyFileIsAWarningWithAnAgent(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "/run/agent.sock")
	doc := edit(base, "  port: 22\n", "  port: 22\n  keyFile: /nonexistent/id_ed25519\n", 1)
	inv, err := parse(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0].Message, "the ssh-agent will be used") ||
		inv.Warnings[0].Line != lineOf(doc, "keyFile", 1) {
		t.Errorf("warnings: %v", inv.Warnings)
	}
}

func TestEmptyInventory(t *testing.T) {
	_, err := parse(t, "# nothing\n")
	if err == nil || !strings.Contains(err.Error(), "the inventory is empty") {
		t.Fatalf("got %v", err)
	}
}

// TestFormerHost: a host the inventory no longer lists is reached with
// the inventory's SSH defaults.
func TestFormerHost(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Parse(filepath.Join(dir, "inventory.yaml"), []byte(`apiVersion: appliance/v1
kind: Inventory
site: s
ssh: {user: ops, keyFile: key, port: 2222, knownHosts: known_hosts, sudo: true}
hosts:
  - {name: master-1, address: 10.0.0.11, roles: [master]}
deployNode: {address: 10.0.0.10}
harbor: {hostname: harbor.s.test}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := inv.FormerHost("worker-9", "10.0.0.29", RoleWorker)
	c := inv.SSHConfig(h)
	if c.User != "ops" || c.Port != 2222 || c.KeyFile != key || !c.Sudo || c.Address != "10.0.0.29" || !h.HasRole(RoleWorker) {
		t.Errorf("former host %+v: ssh %+v", h, c)
	}
}
