//go:build site

package sitetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/deploy/status"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/testsite"
)

// opArgs is deploy SUBCOMMAND... against the site: the inventory, the
// state directory and the SSH settings of a deployment, no bundle.
func (d *deployer) opArgs(sub ...string) []string {
	a := append([]string{testsite.DeployBinDir + "/deploy"}, sub...)
	return append(a, "-i", d.inv, "--state-dir", d.state, "--test-site-hosts", "--sudo-password-file", d.sudoFile,
		"--ssh-connect-timeout", "3s", "--ssh-connect-attempts", "2", "--ssh-keepalive", "1s")
}

// runOp runs deploy SUBCOMMAND... to its end on the deploy node.
func (d *deployer) runOp(sub ...string) (string, error) { return d.runArgv(d.opArgs(sub...)) }

// runArgv runs argv to its end on the deploy node, returning what it
// printed; when it fails, with the host logs' tails of the day-two
// operations, as their phases' errors point there.
func (d *deployer) runArgv(argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	outFile := filepath.Join(d.site.StateDir, "deploy.out")
	res, err := d.site.ExecContext(ctx, testsite.DeployHost, nil, "sh", "-c", shellJoin(argv)+" >"+outFile+" 2>&1")
	b, rerr := os.ReadFile(outFile)
	d.outputs = append(d.outputs, string(b))
	out := string(b)
	if err != nil {
		out += fmt.Sprintf("\n[exec: %q; reading %s: %v]", res, outFile, rerr)
		logs, _ := filepath.Glob(filepath.Join(d.state, deploy.OpsDir, "*", plan.LogsDir, "*.log"))
		for _, l := range logs {
			lb, _ := os.ReadFile(l)
			if len(lb) > 3000 {
				lb = lb[len(lb)-3000:]
			}
			out += fmt.Sprintf("\n--- %s (tail)\n%s", l, lb)
		}
	}
	return out, err
}

// readCerts runs deploy certs and returns what it recorded, by host and
// path.
func readCerts(t *testing.T, d *deployer) map[string]certs.Cert {
	t.Helper()
	out, err := d.runOp("certs")
	if err != nil {
		t.Fatalf("deploy certs: %v\n%s", err, out)
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("deploy certs printed a key:\n%s", out)
	}
	rec, err := state.Dir(d.state).ReadCertsRecord()
	if err != nil || rec == nil {
		t.Fatalf("deploy certs recorded nothing: %v", err)
	}
	if len(rec.Errors) > 0 {
		t.Fatalf("deploy certs could not read hosts: %q", rec.Errors)
	}
	got := map[string]certs.Cert{}
	for _, c := range rec.Certs {
		got[c.Host+":"+c.Path] = c
	}
	return got
}

// testCertsRenew: deploy certs lists every kubeadm certificate of every
// master, every node's kubelet certificate and the site CA; deploy certs
// renew, killed (SIGKILL) while it renews the masters and resumed, moves
// every master's certificates' expiry, the apiserver and etcd serve the
// new ones (the renewal checks it), and kubectl through the VIP works with
// the renewed admin kubeconfigs, on a master and in the state directory
// (deploy status). The timer /kubernetes/upkeep installed is active on
// every master; run by systemd it leaves certificates with a year left
// alone, and with a threshold above a year it renews.
func testCertsRenew(t *testing.T, d *deployer, masters []string, nodes []string) {
	before := readCerts(t, d)
	for _, m := range masters {
		for _, p := range []string{"/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/etcd/server.crt", "/etc/kubernetes/admin.conf", "/etc/kubernetes/pki/ca.crt"} {
			if _, ok := before[m+":"+p]; !ok {
				t.Errorf("deploy certs does not list %s on %s", p, m)
			}
		}
		if st := strings.TrimSpace(mustExec(t, d.site, m, "systemctl", "is-active", certs.Unit+".timer")); st != "active" {
			t.Errorf("the renewal timer on %s is %s", m, st)
		}
	}
	for _, n := range nodes {
		if _, ok := before[n+":"+certs.KubeletClientCert]; !ok {
			t.Errorf("deploy certs does not list the kubelet certificate of %s", n)
		}
	}
	if _, ok := before["deploy node:"+filepath.Join(d.state, "ca.crt")]; !ok {
		t.Errorf("deploy certs does not list the site CA")
	}

	opDir := filepath.Join(d.state, deploy.OpsDir, "certs-renew")
	out, killed := d.killIn(d.opArgs("certs", "renew"), opDir, "/certs-renew/masters/"+masters[1], 4*time.Second)
	if !killed {
		t.Fatalf("deploy certs renew ended before it was killed:\n%s", out)
	}
	t.Logf("deploy certs renew killed while renewing %s", masters[1])
	start := time.Now()
	if out, err := d.runOp("certs", "renew", "--resume"); err != nil {
		t.Fatalf("deploy certs renew --resume: %v\n%s", err, out)
	}
	t.Logf("deploy certs renew --resume: %s", time.Since(start).Round(time.Second))
	for id, r := range plan.Resolve(readJournal(t, opDir)) {
		if r.State != plan.Completed {
			t.Errorf("%s is %s after the resume", id, r.State)
		}
	}
	after := readCerts(t, d)
	for _, m := range masters {
		for _, p := range []string{"/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/etcd/server.crt", "/etc/kubernetes/admin.conf"} {
			b, a := before[m+":"+p], after[m+":"+p]
			if !a.NotAfter.After(b.NotAfter) {
				t.Errorf("%s on %s: expiry %s did not move (was %s)", p, m, a.NotAfter, b.NotAfter)
			}
		}
	}
	// kubectl through the VIP with master-1's renewed admin.conf.
	kubectl(t, d, "get", "nodes")
	// deploy status, through the VIP with the state directory's copy.
	js, err := d.site.Exec(testsite.DeployHost, testsite.DeployBinDir+"/deploy", "status", "--state-dir", d.state, "--json")
	if err != nil {
		t.Fatalf("deploy status: %v\n%s", err, js)
	}
	var st status.SiteStatus
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("deploy status --json: %v\n%s", err, js)
	}
	if st.Kubernetes.State != status.SectionOK || len(st.Kubernetes.Nodes) != len(nodes) {
		t.Errorf("deploy status with the renewed kubeconfig: %s %s, %d nodes", st.Kubernetes.State, st.Kubernetes.Error, len(st.Kubernetes.Nodes))
	}
	renewed := false
	for _, o := range st.Operations {
		renewed = renewed || o.Name == "certs-renew" && o.State == plan.Completed
	}
	if !renewed {
		t.Errorf("deploy status shows no completed certs-renew: %+v", st.Operations)
	}
	if len(st.Certificates.Warnings) != 0 {
		t.Errorf("deploy status warns after a renewal: %q", st.Certificates.Warnings)
	}

	// The timer's service, run by systemd: a year left, nothing to do.
	m := masters[0]
	mustExec(t, d.site, m, "systemctl", "start", certs.Unit+".service")
	if j := mustExec(t, d.site, m, "journalctl", "-u", certs.Unit, "--no-pager"); !strings.Contains(j, "renewal at fewer than 30") {
		t.Errorf("the timer's service on %s did not decide against renewing:\n%s", m, j)
	}
	// With a threshold above a year, the script renews.
	if o, err := d.site.Exec(m, "env", "RENEW_DAYS=400", certs.ScriptPath); err != nil || !strings.Contains(o, "renewing") || !strings.Contains(o, "certificates renewed") {
		t.Fatalf("the renewal script with RENEW_DAYS=400 on %s: %v\n%s", m, err, o)
	}
	again := readCerts(t, d)
	if p := "/etc/kubernetes/pki/apiserver.crt"; !again[m+":"+p].NotAfter.After(after[m+":"+p].NotAfter) {
		t.Errorf("the timer's script did not renew %s on %s", p, m)
	}
	kubectl(t, d, "get", "nodes")
}

// testBackupRestore: deploy backup copies a checked snapshot to the state
// directory (the daily timer is active on every master); then etcd's data
// is destroyed on every master, and deploy restore, killed (SIGKILL) while
// it restores the members' data and resumed, brings the cluster back from
// the snapshot: an object created before the snapshot is there, one
// created after it is gone, every node Ready, one etcd member per master.
func testBackupRestore(t *testing.T, d *deployer, masters []string, workers int) {
	for _, m := range masters {
		if st := strings.TrimSpace(mustExec(t, d.site, m, "systemctl", "is-active", snapshot.Unit+".timer")); st != "active" {
			t.Errorf("the etcd snapshot timer on %s is %s", m, st)
		}
	}
	kubectl(t, d, "create", "configmap", "before-snapshot", "--from-literal=k=v")
	if out, err := d.runOp("backup"); err != nil {
		t.Fatalf("deploy backup: %v\n%s", err, out)
	}
	snaps, _ := filepath.Glob(filepath.Join(d.state, steps.BackupsDir, "etcd-"+masters[0]+"-*.db"))
	if len(snaps) != 1 {
		t.Fatalf("deploy backup left %d snapshots in %s/%s, want 1", len(snaps), d.state, steps.BackupsDir)
	}
	if on := mustExec(t, d.site, masters[0], "sh", "-c", "ls "+snapshot.Dir); !strings.Contains(on, filepath.Base(snaps[0])) {
		t.Errorf("the snapshot is not kept on %s too: %s", masters[0], on)
	}
	kubectl(t, d, "create", "configmap", "after-snapshot", "--from-literal=k=v")

	// Destroy etcd's data on every master: etcd stopped, its member
	// directory removed, etcd started on nothing.
	const crictl = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock"
	for _, m := range masters {
		mustExec(t, d.site, m, "sh", "-c", "mv /etc/kubernetes/manifests/etcd.yaml /root/ && "+
			"for i in $(seq 1 120); do [ -z \"$("+crictl+" ps -q --name '^etcd$')\" ] && break; sleep 1; done && "+
			"rm -rf /var/lib/etcd/member && mv /root/etcd.yaml /etc/kubernetes/manifests/")
	}
	t.Logf("etcd's data destroyed on %s", strings.Join(masters, ", "))

	opDir := filepath.Join(d.state, deploy.OpsDir, "restore")
	out, killed := d.killIn(d.opArgs("restore", snaps[0]), opDir, "/restore/data", time.Second)
	if !killed {
		t.Fatalf("deploy restore ended before it was killed:\n%s", out)
	}
	start := time.Now()
	if out, err := d.runOp("restore", snaps[0], "--resume"); err != nil {
		t.Fatalf("deploy restore --resume: %v\n%s", err, out)
	}
	t.Logf("deploy restore (killed in /restore/data) --resume: %s", time.Since(start).Round(time.Second))
	kubectl(t, d, "get", "configmap", "before-snapshot")
	if o, err := d.site.Exec(masters[0], "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "configmap", "after-snapshot"); err == nil || !strings.Contains(o+err.Error(), "NotFound") {
		t.Errorf("the object created after the snapshot survived the restore: %v\n%s", err, o)
	}
	waitNodesReady(t, d, len(masters)+workers)
	checkCluster(t, d, len(masters), workers)
}

// waitNodesReady waits until n nodes are Ready (a restored cluster's
// kubelets report again within a minute or so).
func waitNodesReady(t *testing.T, d *deployer, n int) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		out, _ := d.site.Exec("master-1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "--no-headers")
		ready := 0
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[1] == "Ready" {
				ready++
			}
		}
		if ready == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d nodes Ready after the restore:\n%s", ready, n, out)
		}
		time.Sleep(3 * time.Second)
	}
}

// testNodesOutAndIn: master-3 and worker-1, taken out of the inventory,
// are removed from the running HA cluster (drained, master-3's etcd
// member removed, the masters' haproxy and keepalived rewritten, the hosts
// reset), kubectl through the VIP answering throughout; then, back in the
// inventory, deploy add-node joins them again at the cluster's version,
// master-3 as a master with a fresh certificate key. At the end etcd has
// three voting members and every node is Ready.
func testNodesOutAndIn(t *testing.T, d *deployer) {
	full := d.inv
	text := string(mustRead(t, full))
	var kept []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "name: master-3,") && !strings.Contains(l, "name: worker-1,") {
			kept = append(kept, l)
		}
	}
	smaller := filepath.Join(d.site.StateDir, "inventory-smaller.yaml")
	if err := os.WriteFile(smaller, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	d.inv = smaller
	defer func() { d.inv = full }()
	for _, n := range []string{"worker-1", "master-3"} {
		start := time.Now()
		if out, err := d.runOp("remove-node", n, "--drain-timeout", "2m"); err != nil {
			t.Fatalf("deploy remove-node %s: %v\n%s", n, err, out)
		}
		t.Logf("deploy remove-node %s: %s", n, time.Since(start).Round(time.Second))
		if o, err := d.site.Exec("master-1", "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "get", "node", n); err == nil || !strings.Contains(o+err.Error(), "NotFound") {
			t.Errorf("node %s is still in the cluster: %v\n%s", n, err, o)
		}
	}
	if v := etcdVoters(t, d); v != 2 {
		t.Errorf("etcd has %d voting members after master-3 left, want 2", v)
	}
	if st, _ := d.site.Exec("master-3", "systemctl", "is-active", "keepalived"); strings.TrimSpace(st) == "active" {
		t.Error("keepalived still runs on the removed master-3")
	}
	kubectl(t, d, "get", "nodes")

	d.inv = full
	// add-node runs the site server itself, on the port of the deploy
	// serve an earlier check left running.
	pidFile := filepath.Join(d.state, "serve.pid")
	_, _ = d.site.Exec(testsite.DeployHost, "sh", "-c", "if [ -f "+pidFile+" ]; then kill $(cat "+pidFile+") && while kill -0 $(cat "+pidFile+") 2>/dev/null; do sleep 0.1; done; rm -f "+pidFile+"; fi")
	for _, n := range []string{"master-3", "worker-1"} {
		start := time.Now()
		if out, err := d.runArgv(d.opArgs("add-node", n, "--bundle", d.b.path, "--key", d.b.pub)); err != nil {
			t.Fatalf("deploy add-node %s: %v\n%s", n, err, out)
		}
		t.Logf("deploy add-node %s: %s", n, time.Since(start).Round(time.Second))
	}
	if v := etcdVoters(t, d); v != 3 {
		t.Errorf("etcd has %d voting members after master-3 came back, want 3", v)
	}
	waitNodesReady(t, d, 4)
	checkCluster(t, d, 3, 1)
}

// etcdVoters counts etcd's voting members, asked on master-1.
func etcdVoters(t *testing.T, d *deployer) int {
	t.Helper()
	out := mustExec(t, d.site, "master-1", "sh", "-c", kubeadm.EtcdMembersCommand)
	n, err := kubeadm.EtcdVoters([]byte(out))
	if err != nil {
		t.Fatalf("etcd's member list: %v\n%s", err, out)
	}
	return n
}
