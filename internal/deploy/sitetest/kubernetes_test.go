//go:build site

package sitetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/deploy/status"
	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/testsite"
	"github.com/factory-appliance/appliance/manifest"
)

// The Kubernetes site test deploys a bundle made by `bundle build` from the
// real Kubernetes programs built from source (scripts/k8s: kubeadm, kubelet,
// kubectl RPMs signed into a yum repo; kubeadm's images and a test image in
// the fixture registry) onto test sites of real containers: systemd,
// containerd, kubelet, etcd and the control plane all run for real. Only
// the pod network is a stand-in: the bundle's podNetwork component is
// demo-cni (testdata/demo-cni.yaml), a small DaemonSet in Calico's place,
// whose images cannot be pulled or built here.

// k8sSiteName and k8sOneSiteName are this file's test sites.
const (
	k8sSiteName    = "k8stest"
	k8sOneSiteName = "k8sone"
)

// helloImage is the test workload image scripts/k8s builds: an HTTP server
// that answers with its host name.
const helloImage = "registry.factory.example/library/hello:1.0"

// harborName is the test site's Harbor hostname (scripts/site/up.sh).
const harborName = "harbor.site.test"

// k8sPhases are the leaves' groups the Kubernetes deployment is killed in,
// in order.
var k8sPhases = []string{"/kubernetes/init", "/kubernetes/masters", "/kubernetes/workers", "/kubernetes/network", "/kubernetes/cni", "/kubernetes/ready"}

func k8sInputs(t *testing.T) in {
	t.Helper()
	v := in{bundle: os.Getenv("SITETEST_K8S_BUNDLE"), pub: os.Getenv("SITETEST_PUB")}
	if v.bundle == "" || v.pub == "" {
		t.Fatal("SITETEST_K8S_BUNDLE and SITETEST_PUB are not set: run make site-test (scripts/site-test.sh)")
	}
	return v
}

// TestKubernetesHA: three masters behind the keepalived VIP and haproxy and
// one worker, built by deploy --bundle alone. The deployment is killed
// (SIGKILL) in each /kubernetes phase in turn and resumed; master-3 is cut
// off in the middle of its join (its phase fails naming it, --resume
// completes once it is back). Then: every node Ready, kube-system running,
// three etcd members, the pod network of the bundle's CNI (demo-cni) on
// every node, a pod of a bundle image on the worker answering master-1
// across it, the certificates renewed (testCertsRenew), etcd backed up,
// destroyed and restored (testBackupRestore), master-3 and worker-1
// removed and added again (testNodesOutAndIn), and when the VIP
// holder stops, the VIP moves and kubectl through it still answers.
//
// Timed (APPLIANCE_SITE_TIMES, see times_test.go), worker-1 is also the
// registry host, so the figure is the whole shape make bench-site reports:
// 3 masters and a worker with Harbor loaded and the demo stack; the pod
// then pulls from Harbor.
func TestKubernetesHA(t *testing.T) {
	d := k8sSite(t, k8sSiteName, 3)
	if timing() {
		registryOnWorker(t, d)
		runTimed(t, d, "ha")
	} else {
		killInEachK8sPhase(t, d)
	}
	checkCluster(t, d, 3, 1)
	checkKubeconfig(t, d)
	checkPodNetwork(t, d, 4)
	if timing() {
		checkHarbor(t, d, 4)
	}
	checkPodOnWorker(t, d, !timing())
	if !timing() {
		testNodesOutAndIn(t, d)
		testCertsRenew(t, d, []string{"master-1", "master-2", "master-3"}, []string{"master-1", "master-2", "master-3", "worker-1"})
		testBackupRestore(t, d, []string{"master-1", "master-2", "master-3"}, 1)
	}
	checkVIPFailover(t, d)
	checkEL7Logs(t, d)
	testNoSecrets(t, d)
}

// killInEachK8sPhase kills the deployment in each /kubernetes phase in
// turn, resuming each time (master-3 cut off mid-join on the way), and
// resumes it to its end.
func killInEachK8sPhase(t *testing.T, d *deployer) {
	for i, p := range k8sPhases {
		var extra []string
		if i > 0 {
			extra = []string{"--resume"}
		}
		out, killed := d.runKilledIn(p, extra...)
		if !killed {
			t.Fatalf("the deployer ended before %s started:\n%s", p, out)
		}
		for id, r := range d.leafStates(p) {
			if r.State == plan.Failed {
				t.Errorf("%s failed before the kill: %s", id, r.Error)
			}
		}
		t.Logf("killed in %s", p)
		if p == "/kubernetes/masters" {
			testMasterDropsMidJoin(t, d)
		}
	}
	if out, err := d.run("--resume"); err != nil {
		t.Fatalf("--resume after the kills: %v\n%s", err, out)
	}
}

// TestKubernetesOneMaster: one master without a VIP, one worker, deployed
// in one run.
//
// worker-1 is also the registry host: /harbor installs the Harbor
// stand-in from the bundle there (Harbor's own images cannot run here; the
// stand-in is the real distribution registry behind the Harbor API fake,
// installed by the same commands), loads every image and hands both nodes
// over to it. Once deploy has exited, so the seed is gone, a pod on
// worker-1 pulls its image from Harbor. The pod network is the bundle's
// CNI (demo-cni, installed in /kubernetes/cni, not in /stack).
func TestKubernetesOneMaster(t *testing.T) {
	d := k8sSite(t, k8sOneSiteName, 1)
	t.Run("VIPWithOneMasterRefused", func(t *testing.T) { testOneMasterVIPRefused(t, d) })
	t.Run("ForeignHAProxyNamed", func(t *testing.T) { testForeignHAProxyNamed(t, d) })
	registryOnWorker(t, d)
	if timing() {
		runTimed(t, d, "one-master")
	} else {
		killInHarbor(t, d)
	}
	checkCluster(t, d, 1, 1)
	checkStatus(t, d, 2)
	checkPodNetwork(t, d, 2)
	logDurations(t, d, "/kubernetes")
	checkHarbor(t, d, 2)
	logDurations(t, d, "/harbor")
	checkStack(t, d, "0.1.0")
	logDurations(t, d, "/stack")
	checkPodOnWorker(t, d, false)
	checkEL7Logs(t, d)
	testNoSecrets(t, d)
}

// registryOnWorker makes worker-1 the registry host (Harbor) in the
// site's inventory.
func registryOnWorker(t *testing.T, d *deployer) {
	t.Helper()
	text := string(mustRead(t, d.inv))
	with := strings.Replace(text, "roles: [worker], user: admin", "roles: [worker, registry], user: admin", 1)
	if with == text {
		t.Fatalf("%s has no worker line to make the registry host:\n%s", d.inv, text)
	}
	if err := os.WriteFile(d.inv, []byte(with), 0o644); err != nil {
		t.Fatal(err)
	}
}

// killInHarbor kills the deployment in the middle of Harbor's
// installation, then of its loading, and resumes it to its end.
func killInHarbor(t *testing.T, d *deployer) {
	// Killed in the middle of Harbor's installation, then of its loading:
	// each --resume picks up where the last run stopped.
	var extra []string
	for _, kill := range []struct {
		phase string
		after time.Duration
	}{{"/harbor/install", 3 * time.Second}, {"/harbor/load", 2 * time.Second}} {
		out, killed := d.runKilledAfter(kill.phase, kill.after, extra...)
		if !killed {
			t.Fatalf("the deployer ended before it was killed in %s:\n%s", kill.phase, out)
		}
		t.Logf("killed %s into %s", kill.after, kill.phase)
		extra = []string{"--resume"}
	}
	out, err := d.run("--resume")
	if err != nil {
		logPodNetwork(t, d)
		t.Fatalf("deploy --resume: %v\n%s", err, out)
	}
}

// k8sSite brings up a site with masters masters and one worker and
// returns a deployer of the Kubernetes bundle.
func k8sSite(t *testing.T, name string, masters int) *deployer {
	t.Helper()
	return k8sSiteOf(t, name, masters, k8sInputs(t))
}

// k8sSiteOf is k8sSite deploying bundle v.
func k8sSiteOf(t *testing.T, name string, masters int, v in) *deployer {
	t.Helper()
	work := t.TempDir()
	b := writeFixtureBundle(t, v, work)
	s := testsite.Up(t, name, testsite.WithMasters(masters), testsite.WithStateDir(filepath.Join(work, "site")),
		testsite.WithMount(work+"/bundle", ""))
	d := newDeployer(t, s, b)
	if masters == 1 && strings.Contains(string(mustRead(t, d.inv)), "vip:") {
		// One master needs no load balancer, and deploy refuses a VIP
		// with one master: up.sh writes none.
		t.Fatalf("up.sh --masters 1 wrote a VIP into %s", d.inv)
	}
	return d
}

// testMasterDropsMidJoin cuts master-3 off as soon as its join starts:
// its phase fails after its attempts with an error naming it, master-2
// stays joined, and once the cable is back, --resume (killed again in
// /kubernetes/masters by the caller's next step, or run to its end later)
// completes the join.
func testMasterDropsMidJoin(t *testing.T, d *deployer) {
	const host = "master-3"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			// Not d.leafStates: it may fail the test, which only the
			// test's goroutine may do.
			records, _ := plan.ReadJournal(d.state)
			if r, ok := plan.Resolve(records)["/kubernetes/masters/"+host]; ok && r.State == plan.InProgress {
				// Let kubeadm start on the host before the cable goes.
				if _, err := d.site.Exec(host, "sh", "-c", "for i in $(seq 1 600); do pgrep -x kubeadm >/dev/null && exit 0; sleep 0.1; done; exit 1"); err != nil {
					cut <- fmt.Errorf("kubeadm never started on %s: %w", host, err)
					return
				}
				cut <- d.site.Disconnect(host)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	out, err := d.run("--resume")
	cancel()
	if cerr := <-cut; cerr != nil {
		t.Fatalf("cutting %s off: %v", host, cerr)
	}
	if rerr := d.site.Reconnect(host); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatalf("the deployment completed although %s was cut off mid-join:\n%s", host, out)
	}
	if !strings.Contains(out, "/kubernetes/masters/"+host) {
		t.Errorf("the failure does not name %s's phase:\n%s", host, out)
	}
	states := d.leafStates("/kubernetes/masters")
	if r := states["/kubernetes/masters/master-2"]; r.State != plan.Completed {
		t.Errorf("master-2's join is %s after master-3 dropped", r.State)
	}
	t.Logf("%s cut off mid-join: the deployment stopped naming it; master-2 stayed joined", host)
}

// kubectl runs kubectl as cluster-admin on master-1.
func kubectl(t *testing.T, d *deployer, args ...string) string {
	t.Helper()
	return mustExec(t, d.site, "master-1", append([]string{"kubectl", "--kubeconfig", kubeadm.AdminConf}, args...)...)
}

// checkCluster: every node Ready, every kube-system pod Running, one
// etcd member per master, each node's kubelet at the bundle's version.
func checkCluster(t *testing.T, d *deployer, masters, workers int) {
	t.Helper()
	nodes := kubectl(t, d, "get", "nodes", "--no-headers", "-o", "custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type==\"Ready\")].status,VERSION:.status.nodeInfo.kubeletVersion")
	lines := strings.Split(strings.TrimSpace(nodes), "\n")
	if len(lines) != masters+workers {
		t.Errorf("%d nodes, want %d:\n%s", len(lines), masters+workers, nodes)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[1] != "True" || !strings.HasPrefix(f[2], "v1.") {
			t.Errorf("node not Ready at a real version: %q", l)
		}
	}
	pods := kubectl(t, d, "-n", "kube-system", "get", "pods", "--no-headers", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase,NODE:.spec.nodeName")
	etcd := 0
	for _, l := range strings.Split(strings.TrimSpace(pods), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[1] != "Running" {
			t.Errorf("kube-system pod not running: %q", l)
		}
		if strings.HasPrefix(l, "etcd-") {
			etcd++
		}
	}
	if etcd != masters {
		t.Errorf("%d etcd pods, want %d:\n%s", etcd, masters, pods)
	}
	t.Logf("nodes:\n%s\nkube-system:\n%s", nodes, pods)
}

// checkKubeconfig: deploy kubeconfig names the state directory's admin
// kubeconfig, mode 0600, and it reaches the cluster through the VIP.
func checkKubeconfig(t *testing.T, d *deployer) {
	t.Helper()
	p := strings.TrimSpace(mustExec(t, d.site, testsite.DeployHost, testsite.DeployBinDir+"/deploy", "kubeconfig", "--state-dir", d.state))
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig %s: %v %v", p, fi.Mode(), err)
	}
	vip := net.JoinHostPort(d.site.VIP, "6443")
	if admin, err := kubeconfig.Parse(p, mustRead(t, p), vip); err != nil || admin.Server != "https://"+vip {
		t.Errorf("the kubeconfig does not point at the VIP %s: %v", d.site.VIP, err)
	}
}

// checkStatus: deploy status --json, run on the deploy node against the
// real cluster, sees nodes nodes, every one Ready, and a deployment with
// nothing left, /kubernetes/ready included.
func checkStatus(t *testing.T, d *deployer, nodes int) {
	t.Helper()
	out := mustExec(t, d.site, testsite.DeployHost, testsite.DeployBinDir+"/deploy", "status", "--state-dir", d.state, "--json")
	var s status.SiteStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("deploy status --json: %v\n%s", err, out)
	}
	if s.Kubernetes.State != status.SectionOK || len(s.Kubernetes.Nodes) != nodes {
		t.Errorf("deploy status: kubernetes %s (%s), %d nodes, want ok and %d:\n%s", s.Kubernetes.State, s.Kubernetes.Error, len(s.Kubernetes.Nodes), nodes, out)
	}
	for _, n := range s.Kubernetes.Nodes {
		if !n.Ready || !strings.HasPrefix(n.KubeletVersion, "v1.") || n.InternalIP == "" {
			t.Errorf("deploy status: node %+v, want Ready with a version and an address", n)
		}
	}
	ready := d.leafStates("/kubernetes/ready")
	if len(ready) == 0 {
		t.Fatal("the journal has no /kubernetes/ready phase")
	}
	p := s.Phases
	if p.Total == 0 || p.Completed != p.Total || len(p.Left) != 0 || p.Resume != "" {
		t.Errorf("deploy status: %d of %d phases completed, left %v, resume %q; want all completed, /kubernetes/ready included:\n%s",
			p.Completed, p.Total, p.Left, p.Resume, out)
	}
	if s.Releases.State != status.SectionOK {
		t.Errorf("deploy status: releases %s (%s)", s.Releases.State, s.Releases.Error)
	}
}

// checkPodOnWorker runs a pod of the bundle's test image on worker-1 and
// reads its answer from master-1 across the pod network. With serve, the
// image is pulled through containerd's mirror from the seed (deploy serve,
// as the seed is only up while deploy runs); without, from wherever the
// node's mirrors point after deploy has exited (Harbor), with the image
// first removed from worker-1 so that it must be pulled.
func checkPodOnWorker(t *testing.T, d *deployer, serve bool) {
	t.Helper()
	if serve {
		startServe(t, d)
	} else {
		_, _ = d.site.Exec("worker-1", "ctr", "-n", "k8s.io", "images", "rm", helloImage)
	}
	kubectl(t, d, "run", "hello", "--image="+helloImage, "--restart=Never", "--port=8080",
		`--overrides={"spec":{"nodeSelector":{"kubernetes.io/hostname":"worker-1"}}}`)
	kubectl(t, d, "wait", "--for=condition=Ready", "pod/hello", "--timeout=5m")
	ip := strings.TrimSpace(kubectl(t, d, "get", "pod", "hello", "-o", "jsonpath={.status.podIP}"))
	// Its address is from worker-1's pod CIDR (the CNI's host-local
	// range), reached from master-1 through the CNI's route to worker-1.
	cidr := strings.TrimSpace(kubectl(t, d, "get", "node", "worker-1", "-o", "jsonpath={.spec.podCIDR}"))
	if _, n, err := net.ParseCIDR(cidr); err != nil || !n.Contains(net.ParseIP(ip)) {
		t.Errorf("the pod on worker-1 has address %q, not in worker-1's pod CIDR %q (%v)", ip, cidr, err)
	}
	out := mustExec(t, d.site, "master-1", "curl", "-sS", "--max-time", "10", "http://"+ip+":8080/")
	if !strings.Contains(out, "hello") {
		t.Errorf("the pod on worker-1 answered %q", out)
	}
	kubectl(t, d, "delete", "pod", "hello", "--wait=false")
}

// startServe runs deploy serve on the deploy node, for the site's hosts,
// until the test ends.
func startServe(t *testing.T, d *deployer) {
	t.Helper()
	s := d.site
	addr := fmt.Sprintf("%s:%d", s.Hosts[0].Address, deploy.DefaultSeedPort)
	pidFile := filepath.Join(d.state, "serve.pid")
	logFile := filepath.Join(d.state, "logs", "serve.out")
	serve := shellJoin([]string{testsite.DeployBinDir + "/deploy", "serve", "--bundle", d.b.path, "--key", d.b.pub,
		"--addr", addr, "--state-dir", d.state, "--allow", s.Subnet})
	mustExec(t, s, testsite.DeployHost, "sh", "-c", fmt.Sprintf("%s >%s 2>&1 & echo $! >%s", serve, logFile, pidFile))
	t.Cleanup(func() { _, _ = s.Exec(testsite.DeployHost, "sh", "-c", "kill $(cat "+pidFile+")") })
	for i := 0; i < 100 && !strings.Contains(string(mustRead(t, logFile)), "serving on"); i++ {
		time.Sleep(200 * time.Millisecond)
	}
}

// checkVIPFailover pauses the master holding the VIP (docker pause: it
// stops answering at once, as a hung host does): the VIP moves to another
// master and kubectl through the VIP, from the worker, still answers.
func checkVIPFailover(t *testing.T, d *deployer) {
	t.Helper()
	s := d.site
	holder := vipHolder(t, d, "")
	if holder == "" {
		t.Fatal("no master holds the VIP")
	}
	c, err := s.Host(holder)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "pause", c.Container).CombinedOutput(); err != nil {
		t.Fatalf("docker pause %s: %v\n%s", holder, err, out)
	}
	defer exec.Command("docker", "unpause", c.Container).Run()
	moved := vipHolder(t, d, holder)
	if moved == "" {
		t.Fatalf("the VIP did not move from %s", holder)
	}
	kubeconfig := strings.TrimSpace(mustExec(t, s, testsite.DeployHost, testsite.DeployBinDir+"/deploy", "kubeconfig", "--state-dir", d.state))
	if out, err := s.ExecInput("worker-1", strings.NewReader(string(mustRead(t, kubeconfig))), "sh", "-c", "cat >/root/admin.conf"); err != nil {
		t.Fatalf("copying the kubeconfig to worker-1: %v\n%s", err, out)
	}
	var out string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if out, err = s.Exec("worker-1", "kubectl", "--kubeconfig", "/root/admin.conf", "--request-timeout=10s", "get", "nodes"); err == nil {
			t.Logf("%s paused, the VIP moved to %s, kubectl through it answers:\n%s", holder, moved, out)
			return
		}
	}
	t.Errorf("kubectl through the VIP after %s paused: %v\n%s", holder, err, out)
}

// vipHolder waits up to a minute for one master other than not to hold
// the VIP, and returns it ("" if none did).
func vipHolder(t *testing.T, d *deployer, not string) string {
	s := d.site
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		for _, m := range s.Role(testsite.RoleMaster) {
			if m.Name == not {
				continue
			}
			if out, err := s.Exec(m.Name, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); err == nil && strings.Contains(out, " "+s.VIP+"/") {
				return m.Name
			}
		}
	}
	return ""
}

// checkHarbor: deploy status shows Harbor loaded, healthy, and every one
// of the site's nodes (nodes) handed over; every image of the bundle is in
// Harbor under its own name, digest-identical, readable without credentials from worker-1 by
// Harbor's name; the nodes' hosts.toml point at Harbor and no longer at
// the seed; Harbor's TLS key is on the registry host only.
func checkHarbor(t *testing.T, d *deployer, nodes int) {
	t.Helper()
	out := mustExec(t, d.site, testsite.DeployHost, testsite.DeployBinDir+"/deploy", "status", "--state-dir", d.state, "--json")
	var s status.SiteStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("deploy status --json: %v\n%s", err, out)
	}
	h := s.Harbor
	if h.State != string(plan.Completed) || h.NodesHandedOver != nodes || h.NodesTotal != nodes || h.Loaded == nil || h.Health != "healthy" {
		t.Fatalf("deploy status: harbor %+v, want completed, %d of %d nodes, loaded and healthy:\n%s", h, nodes, nodes, out)
	}
	r, err := bundle.Open(d.b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	imgs := r.Index().Images
	if h.Loaded.Images < len(imgs) {
		t.Errorf("Harbor was loaded with %d images, the bundle has %d", h.Loaded.Images, len(imgs))
	}
	base := "https://" + harborName
	for _, img := range imgs {
		r, err := manifest.ParseImageRef(img.Name)
		if err != nil {
			t.Fatal(err)
		}
		name, ref := r.Registry+"/"+r.Repository, r.Tag
		if r.Digest != "" {
			ref = r.Digest
		}
		hdrs := mustExec(t, d.site, "worker-1", "curl", "-fsSI", "--cacert", "/etc/pki/ca-trust/source/anchors/appliance-site-ca.crt",
			"-H", "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json",
			base+"/v2/"+name+"/manifests/"+ref)
		if !strings.Contains(strings.ToLower(hdrs), "docker-content-digest: "+img.Digest) {
			t.Errorf("%s in Harbor is not digest-identical to the bundle's %s:\n%s", img.Name, img.Digest, hdrs)
		}
	}
	for _, node := range []string{"master-1", "worker-1"} {
		toml := mustExec(t, d.site, node, "cat", hostconf.ContainerdCertsDir+"/registry.k8s.io/hosts.toml")
		if !strings.Contains(toml, base+"/v2/registry.k8s.io") || strings.Contains(toml, fmt.Sprint(deploy.DefaultSeedPort)) {
			t.Errorf("%s's hosts.toml for registry.k8s.io does not point at Harbor alone:\n%s", node, toml)
		}
	}
	if keys := mustExec(t, d.site, "worker-1", "sh", "-c", "stat -c %a "+install.CertDir+"/tls.key"); strings.TrimSpace(keys) != "600" {
		t.Errorf("Harbor's key on worker-1 has mode %s, want 600", keys)
	}
	t.Logf("Harbor: %d images digest-identical at %s, projects %v", len(imgs), base, h.Loaded.Projects)
}

// logDurations logs how long each leaf under prefix took in its last,
// completed run (from its last in_progress record to completed).
func logDurations(t *testing.T, d *deployer, prefix string) {
	t.Helper()
	recs, err := plan.ReadJournal(d.state)
	if err != nil {
		t.Fatal(err)
	}
	started := map[string]time.Time{}
	var lines []string
	for _, r := range recs {
		if !strings.HasPrefix(r.Phase, prefix+"/") {
			continue
		}
		switch r.State {
		case plan.InProgress:
			started[r.Phase] = r.Time
		case plan.Completed:
			lines = append(lines, fmt.Sprintf("%s %.1fs", r.Phase, r.Time.Sub(started[r.Phase]).Seconds()))
		}
	}
	t.Logf("durations: %s", strings.Join(lines, ", "))
}

// checkStack: /stack installed the small chart stack on the real cluster
// after the nodes were handed over to Harbor, in the stack's order: the
// demo-config manifest applied server-side (field manager
// appliance-deploy), then the stack-demo release deployed by Helm — its
// DaemonSet ready on every node, its Job complete, its Deployment's pod
// answering with the ConfigMap's message and the file it wrote on its
// claim, bound to the hostPath volume. Then --phase /stack/stack-demo
// --force runs the release again and changes nothing (same revision).
func checkStack(t *testing.T, d *deployer, stackVersion string) {
	t.Helper()
	for _, id := range []string{"/stack/demo-config-manifests", "/stack/stack-demo"} {
		if r, ok := d.leafStates(id)[id]; !ok || r.State != plan.Completed {
			t.Errorf("%s: %+v, want completed", id, r)
		}
	}
	k := func(args ...string) string {
		return strings.TrimSpace(kubectl(t, d, append([]string{"-n", "stack-demo"}, args...)...))
	}
	if m := k("get", "configmap", "stack-demo", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"); !strings.Contains(m, "appliance-deploy") {
		t.Errorf("the ConfigMap's field managers are %q, want appliance-deploy (server-side apply)", m)
	}
	// demo-config.yaml is a template: deploy rendered the site's data in.
	inv, err := inventory.Load(d.inv)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"registry": harborName, "podCIDR": inv.Network.PodCIDR, "stack": "site-k8s " + stackVersion} {
		if got := k("get", "configmap", "stack-demo", "-o", "jsonpath={.data."+key+"}"); got != want || want == "" {
			t.Errorf("the ConfigMap rendered from the template has %s = %q, want %q from the inventory", key, got, want)
		}
	}
	nodes := 0
	for _, h := range inv.Hosts {
		if h.HasRole(inventory.RoleMaster) || h.HasRole(inventory.RoleWorker) {
			nodes++
		}
	}
	if n, want := k("get", "daemonset", "stack-demo-node", "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}"), fmt.Sprintf("%d/%d", nodes, nodes); n != want {
		t.Errorf("DaemonSet ready/desired = %s, want %s (every node)", n, want)
	}
	if s := k("get", "job", "stack-demo-once", "-o", "jsonpath={.status.succeeded}"); s != "1" {
		t.Errorf("the Job succeeded %q times, want 1", s)
	}
	if p := k("get", "pvc", "stack-demo-data", "-o", "jsonpath={.status.phase}"); p != "Bound" {
		t.Errorf("the claim is %q, want Bound", p)
	}
	pod := k("get", "pods", "-l", "app=stack-demo-web", "-o", "jsonpath={.items[0].metadata.name} {.items[0].status.podIP}")
	name, ip, _ := strings.Cut(pod, " ")
	out := mustExec(t, d.site, "master-1", "curl", "-sS", "--max-time", "10", "http://"+ip+":8080/")
	if !strings.Contains(out, "hello from the stack from "+name) || !strings.Contains(out, "/data holds "+name) {
		t.Errorf("the Deployment's pod %s answered %q, want its message and its file on the claim", name, out)
	}
	rev := func() string {
		return k("get", "secrets", "-l", "owner=helm,name=stack-demo,status=deployed", "-o", "jsonpath={.items[*].metadata.labels.version}")
	}
	before := rev()
	if o, err := d.run("--phase", "/stack/stack-demo", "--force"); err != nil {
		t.Fatalf("deploy --phase /stack/stack-demo --force: %v\n%s", err, o)
	}
	if after := rev(); after != before || before == "" {
		t.Errorf("running the release again moved it from revision %q to %q; want it left alone", before, after)
	}
	t.Logf("stack: %s", out)
}

// demoCNI is the bundle's pod network component on the test site
// (testdata/demo-cni.yaml, the stand-in for Calico): its DaemonSet in
// kube-system and the CNI configuration it writes on each node.
const (
	demoCNI         = "demo-cni"
	demoCNIConflist = "/etc/cni/net.d/10-demo.conflist"
)

// checkPodNetwork: the pod network is the bundle's CNI, demo-cni, not the
// deployer's bridge. The journal has /kubernetes/cni/demo-cni-manifests
// completed and no /stack step of demo-cni; its DaemonSet is ready with one
// pod on each of the nodes nodes; on every node, /etc/cni/net.d holds its
// conflist alone (on the node's pod CIDR, bridge demo0), with neither the
// deployer's conflist nor its routes unit nor its cni0 bridge, and each
// other node's pod CIDR routes through that node's InternalIP.
func checkPodNetwork(t *testing.T, d *deployer, nodes int) {
	t.Helper()
	const step = "/kubernetes/cni/" + demoCNI + "-manifests"
	cni := d.leafStates("/kubernetes/cni")
	if r, ok := cni[step]; !ok || r.State != plan.Completed || len(cni) != 1 {
		t.Errorf("/kubernetes/cni in the journal: %v, want %s alone, completed", cni, step)
	}
	st := d.leafStates("/stack")
	if len(st) == 0 {
		t.Error("the journal has no /stack step")
	}
	for id := range st {
		if strings.Contains(id, demoCNI) {
			t.Errorf("/stack has a step of the pod network component: %s", id)
		}
	}
	k := func(args ...string) string {
		return strings.TrimSpace(kubectl(t, d, append([]string{"-n", "kube-system"}, args...)...))
	}
	if n := k("get", "daemonset", demoCNI, "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}"); n != fmt.Sprintf("%d/%d", nodes, nodes) {
		t.Errorf("DaemonSet %s ready/desired = %s, want %d/%d", demoCNI, n, nodes, nodes)
	}
	type node struct{ name, cidr, ip string }
	var all []node
	list := kubectl(t, d, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}`)
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			all = append(all, node{f[0], f[1], f[2]})
		} else {
			t.Errorf("node without a pod CIDR or an address: %q", l)
		}
	}
	if len(all) != nodes {
		t.Fatalf("%d nodes with a pod CIDR and an address, want %d:\n%s", len(all), nodes, list)
	}
	on := k("get", "pods", "-l", "app="+demoCNI, "--field-selector=status.phase=Running", "-o", `jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}`)
	for _, n := range all {
		if !strings.Contains("\n"+on+"\n", "\n"+n.name+"\n") {
			t.Errorf("no running %s pod on %s (pods on: %q)", demoCNI, n.name, on)
		}
	}
	for _, n := range all {
		if ls := strings.TrimSpace(mustExec(t, d.site, n.name, "ls", "/etc/cni/net.d")); ls != "10-demo.conflist" {
			t.Errorf("%s's /etc/cni/net.d holds %q, want 10-demo.conflist alone", n.name, ls)
		}
		conf := mustExec(t, d.site, n.name, "cat", demoCNIConflist)
		if !strings.Contains(conf, `"subnet": "`+n.cidr+`"`) || !strings.Contains(conf, `"bridge": "demo0"`) {
			t.Errorf("%s's %s is not the bridge demo0 on its pod CIDR %s:\n%s", n.name, demoCNIConflist, n.cidr, conf)
		}
		left := mustExec(t, d.site, n.name, "sh", "-c", fmt.Sprintf("for f in %s %s; do [ ! -e $f ] || echo $f; done; ip -o link show cni0 2>/dev/null | cut -d' ' -f2",
			hostconf.CNIConflist, hostconf.PodRoutesUnit))
		if strings.TrimSpace(left) != "" {
			t.Errorf("the deployer's bridge is on %s: %s", n.name, left)
		}
		for _, o := range all {
			if o.name == n.name {
				continue
			}
			if r := mustExec(t, d.site, n.name, "ip", "route", "show", o.cidr); !strings.Contains(r, "via "+o.ip+" ") {
				t.Errorf("%s has no route to %s's pods (%s via %s): %q", n.name, o.name, o.cidr, o.ip, r)
			}
		}
	}
	t.Logf("pod network: %s on %d node(s) %v", demoCNI, len(all), all)
}

// logPodNetwork logs the state of demo-cni's pods and their logs, after a
// deployment that failed (it may have failed in /kubernetes/cni).
func logPodNetwork(t *testing.T, d *deployer) {
	t.Helper()
	out, _ := d.site.Exec("master-1", "sh", "-c", fmt.Sprintf("k='kubectl --kubeconfig %s -n kube-system'; $k get pods -o wide; $k describe daemonset %s; $k logs -l app=%s --prefix --tail=50",
		kubeadm.AdminConf, demoCNI, demoCNI))
	t.Logf("kube-system after the failure:\n%s", out)
}
