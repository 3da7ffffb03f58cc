package kubeadm

import (
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
)

func TestKubernetesVersion(t *testing.T) {
	idx := &bundle.Index{Images: []bundle.Image{{Name: "registry.k8s.io/pause:3.10.1"}, {Name: "registry.k8s.io/kube-apiserver:v1.34.4"}}}
	if v := KubernetesVersion(idx); v != "v1.34.4" {
		t.Errorf("version %q", v)
	}
	if v := KubernetesVersion(&bundle.Index{}); v != "" {
		t.Errorf("a bundle without Kubernetes: %q", v)
	}
	if m := MissingImages(idx, []string{"registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.4-0"}); len(m) != 1 || m[0] != "registry.k8s.io/etcd:3.6.4-0" {
		t.Errorf("missing %v", m)
	}
}

// TestSiteCluster: with a VIP the endpoint is the VIP's and the
// apiservers share their port with haproxy; with one master, its address.
func TestSiteCluster(t *testing.T) {
	inv := &inventory.Inventory{Site: "unit", Hosts: []inventory.Host{
		{Name: "m1", Address: "10.9.0.11", Roles: []inventory.Role{inventory.RoleMaster}},
		{Name: "m2", Address: "10.9.0.12", Roles: []inventory.Role{inventory.RoleMaster}},
		{Name: "w1", Address: "10.9.0.21", Roles: []inventory.Role{inventory.RoleWorker}},
	}}
	inv.APIServer.Port = 6443
	c := SiteCluster(inv, "v1.30.1")
	if c.Endpoint != "10.9.0.11:6443" || c.SharedPort || strings.Join(c.CertSANs, " ") != "10.9.0.11 m1 10.9.0.12 m2" {
		t.Errorf("without a VIP: %+v", c)
	}
	inv.APIServer.VIP = "10.9.0.100"
	c = SiteCluster(inv, "v1.30.1")
	if c.Endpoint != "10.9.0.100:6443" || !c.SharedPort || c.CertSANs[0] != "10.9.0.100" || c.Version != "v1.30.1" {
		t.Errorf("with a VIP: %+v", c)
	}
}

// TestCommands: the node commands keep their lock, marker and reset.
func TestCommands(t *testing.T) {
	run := RunCommand(StatePartial, "check-port", "init --config "+ConfigPath)
	for _, want := range []string{"flock 9", "[ -f " + DonePath + " ] && exit 0", "kubeadm reset -f", "{ check-port; } && kubeadm init", "touch " + DonePath} {
		if !strings.Contains(run, want) {
			t.Errorf("RunCommand lacks %q: %s", want, run)
		}
	}
	if strings.Contains(RunCommand(StateClean, "", "join"), "reset") {
		t.Error("a clean node is reset")
	}
	if got := WithConfigCommand("kubeadm token create --config %s", "/x.yaml"); got != "kubeadm token create --config /x.yaml; rc=$?; rm -f /x.yaml; exit $rc" {
		t.Errorf("WithConfigCommand = %s", got)
	}
	n, err := EtcdVoters([]byte(`{"members":[{"name":"a"},{"name":"b","isLearner":true},{"name":"c"}]}`))
	if n != 2 || err != nil {
		t.Errorf("EtcdVoters = %d, %v", n, err)
	}
}
