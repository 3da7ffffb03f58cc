package deploy

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/deploy/sitetest"
	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// el7Site is the fullest deployment the unit tests can plan: the stack
// site (releases and manifests), the fixture yum repo with a key, Harbor's
// installer, images of two registries, Kubernetes v1.26.15 (the stack's),
// masters behind a VIP, and a registry host that logs in as a sudo user.
// podNetwork marks the manifests component as the pod network (the
// deployer's bridge comes off the nodes) or leaves it out (the bridge and
// its routes unit go on).
func el7Site(t *testing.T, podNetwork bool) *testSite {
	t.Helper()
	s := stackSiteWith(t, func(x *bundle.Index) { x.Components[1].PodNetwork = podNetwork })
	full := filepath.Join(s.dir, "full.bundle")
	err := sitetest.WriteBundle(full, sitetest.Spec{Base: s.bundle, Signer: s.signer, Files: []sitetest.File{
		{Path: "repos/fixture/Packages/chain-a-1.0-1.x86_64.rpm", Kind: bundle.KindRPM, Data: []byte("not really an rpm")},
		{Path: "repos/fixture/Packages/cron-lite-1.0-1.x86_64.rpm", Kind: bundle.KindRPM, Data: []byte("not really an rpm either")},
		{Path: "repos/fixture/repodata/repomd.xml", Kind: bundle.KindRepodata, Data: []byte("<repomd/>")},
		{Path: "repos/fixture/keys/RPM-GPG-KEY-fixture", Kind: bundle.KindKey, Data: []byte("key")},
		{Path: testInstaller, Kind: bundle.KindFile, Data: []byte("not really a tgz")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.bundle = full
	for i := range s.inv.Hosts {
		if s.inv.Hosts[i].Name == "worker-1" {
			s.inv.Hosts[i].User = "admin"
		}
	}
	return s
}

// openEL7 opens s as a deployment of Kubernetes v1.26.15 with images of two
// registries (so /harbor/mirrors checks each and pulls the sandbox).
func openEL7(t *testing.T, s *testSite) *Deployment {
	t.Helper()
	d := s.open(t, filepath.Join(t.TempDir(), "state"))
	d.k8sVersion = "v1.26.15"
	d.index.Images = append(d.index.Images, bundle.Image{Name: "registry.k8s.io/pause:3.9"}, bundle.Image{Name: "docker.io/calico/node:v3.26.1"})
	return d
}

// dryRunCommands returns every command the plan of d sends to a host, from
// each leaf's dry run (the same code as the real run: hostPhase): upload
// lines and the sudo note are left out, "[on HOST] " prefixes dropped. The
// deploy node's own leaves list host commands as "HOST: CMD" (/unique) or
// "# on HOST: CMD (...)" (/kubernetes/cni); their other lines describe
// work done on the deploy node.
func dryRunCommands(t *testing.T, d *Deployment) []string {
	t.Helper()
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return planCommands(d, p)
}

// planCommands is dryRunCommands of plan p of d (a deployment's or a
// day-two operation's).
func planCommands(d *Deployment, p *plan.Plan) []string {
	hosts := map[string]bool{}
	for _, h := range d.hosts {
		hosts[h.Name] = true
	}
	var out []string
	for _, l := range p.Leaves() {
		if l.DryRun == nil {
			continue
		}
		for _, line := range l.DryRun() {
			if l.Host == "" {
				rest, isOn := strings.CutPrefix(line, "# on ")
				host, cmd, ok := strings.Cut(rest, ": ")
				if ok && hosts[host] {
					if isOn {
						cmd, _, _ = strings.Cut(cmd, " (")
					}
					out = append(out, cmd)
				}
				continue
			}
			switch {
			case strings.HasPrefix(line, "upload "), strings.HasPrefix(line, "# as "):
				continue
			case strings.HasPrefix(line, "[on "):
				_, line, _ = strings.Cut(line, "] ")
			}
			out = append(out, line)
		}
	}
	return out
}

// unitHost is fakeHost that also keeps what is uploaded, to read the unit
// files the deployer writes.
type unitHost struct {
	*remotetest.FakeHost
	files map[string]string
}

func (u *unitHost) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode fs.FileMode) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	u.files[strings.TrimSuffix(remotePath, ".appliance-new")] = string(b)
	return u.FakeHost.Upload(ctx, r, size, remotePath, mode)
}

// recordedCommands runs the host functions whose commands depend on what
// a host answers, against a fakeHost, for the branches a dry run (which
// sees empty output) does not take: kubeadm init over a half-initialised
// master (kubeadm reset first), a read-only nf_conntrack_max, and the pod
// network's routes unit from the nodes kubectl lists. It returns the
// commands and the systemd units uploaded.
func recordedCommands(t *testing.T, d *Deployment) ([]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	master := d.masters[0]
	pki, err := kubeconfigtest.New("https://" + d.apiEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	host := &unitHost{FakeHost: &remotetest.FakeHost{Host: master.Name, Answers: []remotetest.Answer{
		{Match: "cat " + kubeadm.AdminConf, Stdout: string(pki.Admin.Marshal())},
		{Match: "then echo done", Stdout: "partial"}, // kubeadmState
		{Match: "kubeadm version -o json", Stdout: `{"clientVersion": {"gitVersion": "` + d.k8sVersion + `", "goVersion": "go1.26.8"}}`},
		{Match: "nf_conntrack_max", Stdout: "no"},
		{Match: "config images list", Stdout: "registry.k8s.io/pause:3.9"},
		{Match: "get nodes -o jsonpath", Stdout: "master-1 10.244.0.0/24 10.9.0.11\nmaster-2 10.244.1.0/24 10.9.0.12\nworker-1 10.244.2.0/24 10.9.0.21"},
	}}, files: map[string]string{}}
	h := &remote.Host{Runner: host, Host: master}
	// InitFirst copies the kubeconfig into the state directory.
	if err := os.MkdirAll(d.cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := d.kubeadmSite().InitFirst(ctx, h); err != nil {
		t.Fatalf("InitFirst over a partial master: %v", err)
	}
	// The pod network reads the nodes from the first master (onHost in a
	// dry run), so it runs as a dry run with the fake's answers.
	if err := d.kubeadmSite().PodNetwork(ctx, &remote.Host{Runner: host, Host: master, Dry: true}); err != nil {
		t.Fatalf("podNetwork: %v", err)
	}
	var cmds []string
	for _, c := range host.Commands {
		if strings.HasPrefix(c, "[on ") {
			_, c, _ = strings.Cut(c, "] ")
		}
		cmds = append(cmds, c)
	}
	units := map[string]string{}
	for p, text := range host.files {
		if strings.HasPrefix(p, "/etc/systemd/system/") {
			units[p] = text
		}
	}
	return cmds, units
}

// TestHostCommandsRunOnEL7 sends every command the deployer runs on a
// host, in dry runs of full plans over several inventories and in the
// recorded branches above, and every systemd unit it writes, through the
// EL7 table (internal/el7): a program CentOS 7.9 lacks, or an option its
// version lacks, fails here although the Debian test hosts run it.
func TestHostCommandsRunOnEL7(t *testing.T) {
	seen := map[string]bool{}
	var cmds []string
	addAll := func(list []string) {
		for _, c := range list {
			if !seen[c] {
				seen[c] = true
				cmds = append(cmds, c)
			}
		}
	}
	units := map[string]string{}

	// Masters with a VIP, a worker that is the registry host (sudo), the
	// bundle's CNI: the bridge comes off.
	d := openEL7(t, el7Site(t, true))
	addAll(dryRunCommands(t, d))
	// The deployer's own bridge and pod routes.
	d = openEL7(t, el7Site(t, false))
	addAll(dryRunCommands(t, d))
	rec, u := recordedCommands(t, d)
	addAll(rec)
	for p, text := range u {
		units[p] = text
	}
	// One master, no VIP, no registry host.
	s := el7Site(t, false)
	s.inv.APIServer.VIP = ""
	s.inv.Hosts = slices.DeleteFunc(s.inv.Hosts, func(h inventory.Host) bool { return h.Name == "master-2" })
	for i := range s.inv.Hosts {
		if s.inv.Hosts[i].Name == "worker-1" {
			s.inv.Hosts[i].Roles = []inventory.Role{inventory.RoleWorker}
		}
	}
	addAll(dryRunCommands(t, openEL7(t, s)))
	// deploy upgrade, its Kubernetes packages in the bundle.
	d = openEL7(t, el7Site(t, true))
	for _, p := range []string{"kubeadm", "kubelet", "kubectl"} {
		d.index.Artifacts = append(d.index.Artifacts, bundle.Artifact{Path: "repos/fixture/Packages/" + p + "-1.26.15-1.x86_64.rpm", Kind: bundle.KindRPM})
	}
	for k, v := range upgradeRoles {
		d.index.Annotations[k] = v
	}
	x, err := d.upgradeOp(UpgradeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.New(x.phases...)
	if err != nil {
		t.Fatal(err)
	}
	addAll(planCommands(d, p))

	// The check must have something to check: the phases that matter are
	// all in there.
	all := strings.Join(cmds, "\n")
	for _, want := range []string{"systemctl show -p Id", "yum -y", "rpm --import", "kubeadm reset", "kubeadm join", "openssl genpkey",
		"keepalived", "haproxy -c", "ctr -n k8s.io images pull", "/v3/cluster/member/list", "cat /etc/machine-id", "update-ca-trust extract", "sha256sum -c",
		"kubeadm upgrade apply", "kubeadm upgrade node", "kubectl --kubeconfig /etc/kubernetes/admin.conf uncordon", " update "} {
		if !strings.Contains(all, want) {
			t.Errorf("no gathered command contains %q; the gathering missed a phase", want)
		}
	}
	if len(units) < 2 {
		t.Errorf("gathered %d systemd units, want the service route and pod routes units", len(units))
	}

	sort.Strings(cmds)
	for _, c := range cmds {
		for _, p := range el7.Check(c) {
			t.Errorf("not for EL7: %v", p)
		}
	}
	for p, text := range units {
		for _, prob := range el7.CheckUnit(p, text) {
			t.Errorf("not for systemd 219: %v", prob)
		}
	}
	t.Logf("checked %d distinct host commands and %d systemd units against the EL7 table", len(cmds), len(units))
}
