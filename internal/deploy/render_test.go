package deploy

import (
	"slices"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
)

func TestParseOSRelease(t *testing.T) {
	for _, c := range []struct {
		name, text string
		ok         bool
	}{
		{"centos 7", "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n", true},
		{"rhel 8.9", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.9\"\n", true},
		{"rocky 9.3", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n", true},
		{"alma 8.10 unquoted", "ID=almalinux\nVERSION_ID=8.10\n", true},
		{"centos stream 9", "ID=\"centos\"\nVERSION_ID=\"9\"\n", true},
		{"centos 6", "ID=\"centos\"\nVERSION_ID=\"6\"\n", false},
		{"rocky 7 does not exist", "ID=rocky\nVERSION_ID=7\n", false},
		{"rhel 10", "ID=rhel\nVERSION_ID=10.0\n", false},
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", false},
		{"ubuntu", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n", false},
		{"fedora", "ID=fedora\nVERSION_ID=39\n", false},
		{"empty", "", false},
		{"comments and single quotes", "# comment\nID='rocky'\nVERSION_ID='8.9'\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ParseOSRelease(c.text).CheckSupported()
			if (err == nil) != c.ok {
				t.Errorf("CheckSupported() = %v, want ok=%v", err, c.ok)
			}
		})
	}
	marker := "APPLIANCE_TEST_HOST=1\nNAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"8.9\"\n"
	if o := ParseOSRelease(marker); !o.TestHost || o.CheckSupported() != nil {
		t.Errorf("test-host marker parsed as %+v", o)
	}
	if ParseOSRelease("ID=rocky\nVERSION_ID=8\n").TestHost {
		t.Error("a plain os-release is taken for a test host")
	}
}

func TestListeningPorts(t *testing.T) {
	ss := `LISTEN 0      4096      10.9.0.100:6443       0.0.0.0:*    users:(("haproxy",pid=812,fd=7))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=90,fd=3))
LISTEN 0      4096       127.0.0.1:2379       0.0.0.0:*
LISTEN 0      4096            [::]:10250         [::]:*    users:(("kubelet",pid=1,fd=20))
`
	got := ListeningPorts(ss)
	want := map[int]string{6443: "haproxy", 22: "sshd", 2379: "", 10250: "kubelet"}
	if len(got) != len(want) {
		t.Fatalf("ListeningPorts = %v, want %v", got, want)
	}
	for p, proc := range want {
		if got[p] != proc {
			t.Errorf("port %d: %q, want %q", p, got[p], proc)
		}
	}
}

func TestRolePackages(t *testing.T) {
	idx := &bundle.Index{Name: "b", Version: "1", Artifacts: []bundle.Artifact{
		{Path: "repos/base/Packages/chain-a-1.0-1.x86_64.rpm"},
		{Path: "repos/base/Packages/kubeadm-1.28.2-0.x86_64.rpm"},
		{Path: "repos/base/Packages/conntrack-tools-1.4.4-11.el7.x86_64.rpm"},
		{Path: "repos/base/repodata/repomd.xml"},
		{Path: "repos/base/keys/RPM-GPG-KEY"},
	}}
	idx.Annotations = map[string]string{PackagesAnnotation + "master": "kubeadm chain-a", PackagesAnnotation + "worker": "chain-a conntrack-tools"}
	got, err := RolePackages(idx, []inventory.Role{inventory.RoleMaster, inventory.RoleWorker})
	if err != nil || strings.Join(got, " ") != "chain-a conntrack-tools kubeadm" {
		t.Errorf("RolePackages(master, worker) = %v, %v", got, err)
	}
	if got, err := RolePackages(idx, []inventory.Role{inventory.RoleRegistry}); err != nil || len(got) != 0 {
		t.Errorf("a role the annotations do not name got %v, %v", got, err)
	}
	idx.Annotations = nil
	_, err = RolePackages(idx, []inventory.Role{inventory.RoleWorker})
	if err == nil || !strings.Contains(err.Error(), "kubelet (role worker)") || !strings.Contains(err.Error(), "rpms") {
		t.Errorf("default packages missing from the bundle: %v", err)
	}
	if r := hostconf.BundleRepos(idx); len(r) != 1 || r[0].ID != "base" || strings.Join(r[0].Keys, " ") != "RPM-GPG-KEY" {
		t.Errorf("BundleRepos = %+v", r)
	}
	for file, name := range map[string]string{
		"conntrack-tools-1.4.4-11.el7.x86_64.rpm": "conntrack-tools", "chain-a-1.0-1.x86_64.rpm": "chain-a",
		"containerd.io-1.6.28-3.1.el7.x86_64.rpm": "containerd.io", "bad.rpm": "",
	} {
		if got := RPMName(file); got != name {
			t.Errorf("RPMName(%s) = %q, want %q", file, got, name)
		}
	}
}

func TestRequirementFoldsRoles(t *testing.T) {
	r := requirement(inventory.Host{Roles: []inventory.Role{inventory.RoleWorker, inventory.RoleRegistry}})
	if r.CPUs != 2 || r.MemoryMB != 3800 || r.DiskGB != 40 {
		t.Errorf("worker+registry needs %+v", r)
	}
	if !slices.Contains(r.Ports, 10250) || !slices.Contains(r.Ports, 443) {
		t.Errorf("worker+registry ports %v", r.Ports)
	}
}
