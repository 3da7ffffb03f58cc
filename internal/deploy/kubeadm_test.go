package deploy

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/kubeadm"
)

var tokenRE = regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`)

// TestKubernetesPhases: a bundle with Kubernetes gets /kubernetes after
// /ha: init on the first master, the other masters one at a time, the
// workers, each node's network, then the readiness check.
func TestKubernetesPhases(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.26.15"
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	roots := p.Roots()
	if last := roots[len(roots)-1].ID; last != "/kubernetes" {
		t.Fatalf("last phase %s", last)
	}
	var leaves []string
	for _, l := range p.LeavesUnder("/kubernetes") {
		leaves = append(leaves, l.ID)
	}
	want := "/kubernetes/init/master-1 /kubernetes/masters/master-2 /kubernetes/workers/worker-1 " +
		"/kubernetes/network/master-1 /kubernetes/network/master-2 /kubernetes/network/worker-1 /kubernetes/ready/master-1 /kubernetes/upkeep/master-1 /kubernetes/upkeep/master-2"
	if strings.Join(leaves, " ") != want {
		t.Errorf("leaves %v\nwant %s", leaves, want)
	}
	deps := strings.Join(p.Dependencies("/kubernetes/masters/master-2"), " ")
	if !strings.Contains(deps, "/kubernetes/init/master-1") {
		t.Errorf("master-2 joins without waiting for init: %s", deps)
	}
	if deps := strings.Join(p.Dependencies("/kubernetes/ready/master-1"), " "); !strings.Contains(deps, "/kubernetes/network/worker-1") {
		t.Errorf("ready does not wait for the network: %s", deps)
	}

	var out bytes.Buffer
	if err := d.DryRun(&out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"kubeadm init --config " + kubeadm.ConfigPath + " --upload-certs", "[on master-1] kubeadm token create --config",
		"kubeadm join --config " + kubeadm.ConfigPath, "[on master-1] kubeadm init phase upload-certs --upload-certs --config", "/v3/cluster/member/list"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q", w)
		}
	}
	if tok := tokenRE.FindString(out.String()); tok != "" {
		t.Errorf("dry run shows a join token %s", tok)
	}
}
