package deploy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostsetup"
	"github.com/factory-appliance/appliance/internal/plan"
)

// upgradeRoles give the roles the Kubernetes packages the upgrade installs
// at each node's turn.
var upgradeRoles = map[string]string{
	hostsetup.PackagesAnnotation + "master": "chain-a kubeadm kubelet kubectl",
	hostsetup.PackagesAnnotation + "worker": "cron-lite kubeadm kubelet",
}

// upgradeSite opens the unit site with a bundle of Kubernetes v1.26.15
// and two more workers.
func upgradeSite(t *testing.T) *Deployment {
	t.Helper()
	s := newTestSite(t, upgradeRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.26.15"
	for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
		d.index.Artifacts = append(d.index.Artifacts, bundle.Artifact{Path: "repos/fixture/Packages/" + p + "-1.26.15-1.x86_64.rpm", Kind: bundle.KindRPM})
	}
	return d
}

func leafIDs(t *testing.T, phases []*plan.Phase) (string, *plan.Plan) {
	t.Helper()
	p, err := plan.New(phases...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range p.Leaves() {
		ids = append(ids, l.ID)
	}
	return strings.Join(ids, " "), p
}

// TestUpgradePlan: deploy upgrade verifies and checks the versions before
// any host changes, points yum at the new bundle, updates the other
// packages, then upgrades the masters one at a time (the first with
// kubeadm upgrade apply), each drained on the first master, upgraded on
// itself, and uncordoned once Ready at the new version; then the workers
// in batches of --max-unavailable, the whole cluster, and the stack.
func TestUpgradePlan(t *testing.T) {
	d := upgradeSite(t)
	x, err := d.upgradeOp(UpgradeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, p := leafIDs(t, x.phases)
	want := "/upgrade/verify /upgrade/check/master-1 /upgrade/repos/master-1 /upgrade/repos/master-2 /upgrade/repos/worker-1 " +
		"/upgrade/packages/master-1 /upgrade/packages/master-2 /upgrade/packages/worker-1 " +
		"/upgrade/masters/master-1/kubeadm /upgrade/masters/master-1/drain /upgrade/masters/master-1/kubelet /upgrade/masters/master-1/ready " +
		"/upgrade/masters/master-2/kubeadm /upgrade/masters/master-2/drain /upgrade/masters/master-2/kubelet /upgrade/masters/master-2/ready " +
		"/upgrade/workers/batch-1/worker-1/kubeadm /upgrade/workers/batch-1/worker-1/drain /upgrade/workers/batch-1/worker-1/kubelet /upgrade/workers/batch-1/worker-1/ready " +
		"/upgrade/ready/master-1"
	if got != want {
		t.Errorf("leaves\n%s\nwant\n%s", got, want)
	}
	// Each step runs where it must: drain and ready on the first master,
	// kubeadm and kubelet on the node itself.
	for id, host := range map[string]string{"/upgrade/masters/master-2/drain": "master-1", "/upgrade/masters/master-2/kubeadm": "master-2",
		"/upgrade/masters/master-2/kubelet": "master-2", "/upgrade/workers/batch-1/worker-1/ready": "master-1"} {
		if ph := p.Phase(id); ph == nil || ph.Host != host {
			t.Errorf("%s runs on %+v, want %s", id, ph, host)
		}
	}
	var out bytes.Buffer
	if err := d.DryRunUpgrade(t.Context(), &out, UpgradeOptions{}); err != nil {
		t.Fatal(err)
	}
	dry := out.String()
	if !strings.HasPrefix(dry, "upgrade to ") || !strings.Contains(dry, "→ v1.26.15") || !strings.Contains(dry, "masters, one at a time: master-1, master-2\nworkers, 1 at a time: worker-1\n") {
		t.Errorf("the dry run does not start with the versions and the nodes in order:\n%s", dry)
	}
	for _, w := range []string{"kubeadm upgrade plan 'v1.26.15' && kubeadm upgrade apply 'v1.26.15' --yes --patches /etc/appliance/kubeadm/patches",
		"kubeadm upgrade node --patches /etc/appliance/kubeadm/patches", "install 'kubeadm-1.26.15-1'", "install 'kubelet-1.26.15-1' 'kubectl-1.26.15-1'",
		"drain 'master-2' --ignore-daemonsets", "uncordon 'worker-1'", "update 'chain-a'", "systemctl restart kubelet"} {
		if !strings.Contains(dry, w) {
			t.Errorf("the dry run lacks %q", w)
		}
	}
	if strings.Contains(dry, "update 'chain-a' 'kubeadm'") || strings.Contains(dry, "'kubeadm' 'kubelet'") {
		t.Errorf("/upgrade/packages updates the Kubernetes packages, which each node gets at its turn:\n%s", dry)
	}
	// A worker upgraded by kubeadm upgrade node has no control-plane patches.
	if strings.Count(dry, "kubeadm upgrade node --patches") != 1 {
		t.Errorf("kubeadm upgrade node --patches should run on master-2 only:\n%s", dry)
	}
}

// TestUpgradeOptions: --max-unavailable batches the workers, --drain=false
// drains none, and a bundle without Kubernetes is refused.
func TestUpgradeOptions(t *testing.T) {
	d := upgradeSite(t)
	d.nodes = append(d.nodes, d.nodes[2], d.nodes[2])
	d.nodes[3].Name, d.nodes[4].Name = "worker-2", "worker-3"
	x, err := d.upgradeOp(UpgradeOptions{MaxUnavailable: 2, NoDrain: true})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := leafIDs(t, x.phases)
	for _, w := range []string{"/upgrade/workers/batch-1/worker-1/kubeadm", "/upgrade/workers/batch-1/worker-2/kubeadm", "/upgrade/workers/batch-2/worker-3/kubeadm"} {
		if !strings.Contains(got, w) {
			t.Errorf("leaves lack %s:\n%s", w, got)
		}
	}
	if strings.Contains(got, "drain") || strings.Contains(got, "batch-3") {
		t.Errorf("--drain=false, --max-unavailable 2 of 3 workers: %s", got)
	}
	d.k8sVersion = ""
	if _, err := d.upgradeOp(UpgradeOptions{}); err == nil || !strings.Contains(err.Error(), "carries no Kubernetes") {
		t.Errorf("a bundle without Kubernetes: %v", err)
	}
}
