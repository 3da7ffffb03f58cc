//go:build site

package sitetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/testsite"
)

// Versions of the upgrade test: the old bundle's (scripts/k8s/build.sh
// --previous) and the shipped one's.
const (
	oldK8s = "v1.26.13"
	newK8s = "v1.26.15"
)

// k8sUpgradeSiteName is deploy upgrade's test site.
const k8sUpgradeSiteName = "k8supgrade"

// TestKubernetesUpgrade (make test-upgrade, which builds the release
// before as well): a master and a worker that is also the registry host
// (Harbor loaded), deployed from the old bundle (Kubernetes v1.26.13,
// stack 0.0.9), then moved to the shipped one by deploy upgrade, killed in
// every phase (testUpgrade); then the cluster, Harbor (every image of the
// new bundle digest-identical), the pod network and a pod pulling from
// Harbor are checked on the upgraded site, and every host command against
// EL7.
func TestKubernetesUpgrade(t *testing.T) {
	d := upgradeSite(t, k8sUpgradeSiteName, 1)
	testUpgrade(t, d, os.Getenv("SITETEST_K8S_BUNDLE"), []string{"master-1"}, []string{"worker-1"}, upgradeKills)
	checkCluster(t, d, 1, 1)
	checkHarbor(t, d, 2)
	checkPodNetwork(t, d, 2)
	checkPodOnWorker(t, d, false)
	checkEL7Logs(t, d)
	testNoSecrets(t, d)
}

// upgradeSite brings up the upgrade test's site, masters masters and a
// worker that is also the registry host, deployed from the old bundle
// (SITETEST_K8S_OLD_BUNDLE), and checks it runs.
func upgradeSite(t *testing.T, name string, masters int) *deployer {
	t.Helper()
	old := os.Getenv("SITETEST_K8S_OLD_BUNDLE")
	if old == "" {
		t.Skip("SITETEST_K8S_OLD_BUNDLE is not set: deploy upgrade's site tests run with make test-upgrade, which also builds the release it upgrades from")
	}
	v := k8sInputs(t)
	v.bundle = old
	d := k8sSiteOf(t, name, masters, v)
	registryOnWorker(t, d)
	if out, err := d.run(); err != nil {
		t.Fatalf("deploy of the old bundle: %v\n%s", err, out)
	}
	checkCluster(t, d, masters, 1)
	checkStack(t, d, "0.0.9")
	return d
}

// k8sUpgradeHASiteName is the HA shape's upgrade site.
const k8sUpgradeHASiteName = "k8supgradeha"

// TestKubernetesUpgradeHA (make test-upgrade): TestKubernetesUpgrade on
// three masters behind the VIP and a worker that is the registry host.
// The masters are upgraded one at a time (kubeadm upgrade apply on
// master-1, kubeadm upgrade node on the others), each killed once in
// kubeadm's own step (upgradeKillsHA); afterwards etcd has three voting
// members and kubectl through the VIP answers.
func TestKubernetesUpgradeHA(t *testing.T) {
	d := upgradeSite(t, k8sUpgradeHASiteName, 3)
	testUpgrade(t, d, os.Getenv("SITETEST_K8S_BUNDLE"), []string{"master-1", "master-2", "master-3"}, []string{"worker-1"}, upgradeKillsHA)
	checkCluster(t, d, 3, 1)
	if v := etcdVoters(t, d); v != 3 {
		t.Errorf("etcd has %d voting members after the upgrade, want 3", v)
	}
	checkHarbor(t, d, 4)
	checkPodNetwork(t, d, 4)
	checkEL7Logs(t, d)
	testNoSecrets(t, d)
}

// upgradeKillsHA are the kills of the HA upgrade: in kubeadm upgrade
// apply on the first master and in kubeadm upgrade node on the second and
// the third, then in the worker's kubelet and the last wait.
var upgradeKillsHA = []upgradeKill{
	{"/upgrade/masters/master-1/kubeadm", 12 * time.Second},
	{"/upgrade/masters/master-2/kubeadm", 5 * time.Second},
	{"/upgrade/masters/master-3/drain", 0},
	{"/upgrade/workers/batch-1/worker-1/kubelet", 0},
	{"/upgrade/ready", 0},
}

// upgradeKill is where testUpgrade kills deploy upgrade (SIGKILL), and
// how long after the leaf started.
type upgradeKill struct {
	phase string
	after time.Duration
}

// upgradeKills are where testUpgrade kills deploy upgrade (SIGKILL), in
// order, and how long after the leaf started: in Harbor's loading, the
// packages, the middle of kubeadm upgrade apply on the first master, the
// worker's kubelet, the last wait and the stack.
var upgradeKills = []upgradeKill{
	{"/upgrade/harbor/load", time.Second},
	{"/upgrade/packages", 0},
	{"/upgrade/masters/master-1/kubeadm", 12 * time.Second},
	{"/upgrade/workers/batch-1/worker-1/kubelet", 0},
	{"/upgrade/ready", 0},
	{"/upgrade/stack", 0},
}

// testUpgrade: the site runs the old bundle (Kubernetes v1.26.13, stack
// 0.0.9); deploy upgrade --bundle NEW (v1.26.15, stack 0.1.0), after its
// dry run shows the versions and the nodes in order, is killed in every
// phase of kills and resumed each time. Then every node's kubelet,
// kubeadm and kubectl are at v1.26.15, the control plane runs v1.26.15's
// images, the Deployment made before the upgrade is the same object and
// answers, the Helm release whose chart and values did not change kept
// its revision while the templated manifest moved to the new stack
// version, and deploy status shows the upgrade completed. The deployer's
// bundle is the new one afterwards, for the checks that follow.
func testUpgrade(t *testing.T, d *deployer, newBundle string, masters, workers []string, kills []upgradeKill) {
	nodes := append(append([]string(nil), masters...), workers...)
	checkVersions(t, d, nodes, oldK8s)
	uid := strings.TrimSpace(kubectl(t, d, "-n", "stack-demo", "get", "deployment", "stack-demo-web", "-o", "jsonpath={.metadata.uid}"))
	rev := func() string {
		return strings.TrimSpace(kubectl(t, d, "-n", "stack-demo", "get", "secrets", "-l", "owner=helm,name=stack-demo,status=deployed", "-o", "jsonpath={.items[*].metadata.labels.version}"))
	}
	revBefore := rev()

	nb := filepath.Join(filepath.Dir(d.b.path), "new.bundle")
	if out, err := exec.Command("cp", newBundle, nb).CombinedOutput(); err != nil {
		t.Fatalf("cp %s %s: %v\n%s", newBundle, nb, err, out)
	}
	up := func(extra ...string) []string {
		return d.opArgs(append([]string{"upgrade", "--bundle", nb, "--key", d.b.pub}, extra...)...)
	}
	out, err := d.runArgv(up("--dry-run"))
	if err != nil {
		t.Fatalf("deploy upgrade --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"Kubernetes " + oldK8s + " → " + newK8s, "masters, one at a time: " + strings.Join(masters, ", "),
		"kubeadm upgrade apply '" + newK8s + "'", "stack-demo unchanged", "demo-config-manifests applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy upgrade --dry-run does not show %q:\n%s", want, out)
		}
	}

	opDir := filepath.Join(d.state, deploy.OpsDir, "upgrade")
	var extra []string
	for _, k := range kills {
		out, killed := d.killIn(up(extra...), opDir, k.phase, k.after)
		if !killed {
			t.Fatalf("deploy upgrade ended before it was killed in %s:\n%s", k.phase, out)
		}
		for id, r := range leafStatesIn(t, opDir, "/upgrade") {
			if r.State == plan.Failed {
				t.Errorf("%s failed before the kill in %s: %s", id, k.phase, r.Error)
			}
		}
		t.Logf("deploy upgrade killed %s into %s", k.after, k.phase)
		extra = []string{"--resume"}
	}
	start := time.Now()
	if out, err := d.runArgv(up("--resume")); err != nil {
		t.Fatalf("deploy upgrade --resume: %v\n%s", err, out)
	}
	t.Logf("deploy upgrade --resume completed in %s", time.Since(start).Round(time.Second))
	d.b.path = nb

	checkVersions(t, d, nodes, newK8s)
	for _, m := range masters {
		img := kubectl(t, d, "-n", "kube-system", "get", "pod", "kube-apiserver-"+m, "-o", "jsonpath={.spec.containers[0].image}")
		if strings.TrimSpace(img) != "registry.k8s.io/kube-apiserver:"+newK8s {
			t.Errorf("the apiserver on %s runs %s after the upgrade", m, img)
		}
	}
	waitStackWeb(t, d)
	if after := strings.TrimSpace(kubectl(t, d, "-n", "stack-demo", "get", "deployment", "stack-demo-web", "-o", "jsonpath={.metadata.uid}")); after != uid || uid == "" {
		t.Errorf("the Deployment made before the upgrade was %q, now %q: it should be the same object", uid, after)
	}
	if after := rev(); after != revBefore || revBefore == "" {
		t.Errorf("the release stack-demo, same chart and values, moved from revision %q to %q", revBefore, after)
	}
	if got := strings.TrimSpace(kubectl(t, d, "-n", "stack-demo", "get", "configmap", "stack-demo", "-o", "jsonpath={.data.stack}")); got != "site-k8s 0.1.0" {
		t.Errorf("the templated manifest after the upgrade says stack %q, want the new bundle's site-k8s 0.1.0", got)
	}
	for id, r := range leafStatesIn(t, opDir, "/upgrade") {
		if r.State != plan.Completed {
			t.Errorf("%s is %s after the upgrade", id, r.State)
		}
	}
	st := mustExec(t, d.site, testsite.DeployHost, testsite.DeployBinDir+"/deploy", "status", "--state-dir", d.state)
	if !strings.Contains(st, "upgrade") || !strings.Contains(st, newK8s) {
		t.Errorf("deploy status does not show the upgrade and the new version:\n%s", st)
	}
}

// checkVersions: every node's kubelet reports version, and its kubeadm,
// kubelet and kubectl packages are at it.
func checkVersions(t *testing.T, d *deployer, nodes []string, version string) {
	t.Helper()
	for _, n := range nodes {
		if v := strings.TrimSpace(kubectl(t, d, "get", "node", n, "-o", "jsonpath={.status.nodeInfo.kubeletVersion}")); v != version {
			t.Errorf("node %s: kubelet %s, want %s", n, v, version)
		}
		pkgs := mustExec(t, d.site, n, "rpm", "-q", "--qf", "%{NAME}-%{VERSION}\\n", "kubeadm", "kubelet")
		for _, p := range []string{"kubeadm", "kubelet"} {
			if !strings.Contains(pkgs, p+"-"+strings.TrimPrefix(version, "v")+"\n") {
				t.Errorf("node %s has %q, want %s at %s", n, pkgs, p, version)
			}
		}
	}
}

// waitStackWeb waits until the stack's web Deployment is available and
// its pod answers from master-1.
func waitStackWeb(t *testing.T, d *deployer) {
	t.Helper()
	kubectl(t, d, "-n", "stack-demo", "rollout", "status", "deployment/stack-demo-web", "--timeout=5m")
	pod := strings.TrimSpace(kubectl(t, d, "-n", "stack-demo", "get", "pods", "-l", "app=stack-demo-web", "--field-selector=status.phase=Running",
		"-o", "jsonpath={.items[0].metadata.name} {.items[0].status.podIP}"))
	name, ip, _ := strings.Cut(pod, " ")
	out := mustExec(t, d.site, "master-1", "curl", "-sS", "--max-time", "10", "http://"+ip+":8080/")
	if !strings.Contains(out, "hello from the stack from "+name) {
		t.Errorf("the stack's Deployment's pod %s answered %q after the upgrade", name, out)
	}
}

// leafStatesIn is deployer.leafStates for the journal in dir.
func leafStatesIn(t *testing.T, dir, phase string) map[string]plan.Record {
	out := map[string]plan.Record{}
	for id, r := range plan.Resolve(readJournal(t, dir)) {
		if id == phase || strings.HasPrefix(id, phase+"/") {
			out[id] = r
		}
	}
	return out
}
