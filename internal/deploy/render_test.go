package deploy

import (
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
)

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
