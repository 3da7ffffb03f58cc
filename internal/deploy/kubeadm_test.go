package deploy

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
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
		"/kubernetes/network/master-1 /kubernetes/network/master-2 /kubernetes/network/worker-1 /kubernetes/ready/master-1"
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

// TestSecretsNeverOnACommandLine: the join token and the certificate key
// reach kubeadm in files (mode 0600) that are removed after use, never on
// a command line, where any local user of the first master could read
// them from /proc/*/cmdline.
func TestSecretsNeverOnACommandLine(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.26.15"
	host := &remotetest.FakeHost{Host: "master-2"}
	h := &remote.Host{Runner: host, Host: d.masters[1], Dry: true}
	j, err := d.joinSecrets(context.Background(), h, true)
	if err != nil {
		t.Fatal(err)
	}
	if !tokenRE.MatchString(j.Token) || len(j.CertificateKey) != 64 {
		t.Fatalf("join %+v", j)
	}
	for _, cmd := range host.Commands {
		if strings.Contains(cmd, j.Token) || strings.Contains(cmd, j.CertificateKey) {
			t.Errorf("a command carries a secret: %s", cmd)
		}
	}
	carried := map[string]bool{}
	for i, c := range host.Contents {
		if strings.Contains(c, j.Token) || strings.Contains(c, j.CertificateKey) {
			carried[strings.TrimPrefix(host.Uploads[i], "[on master-1] ")] = true
		}
	}
	if len(carried) != 2 {
		t.Errorf("the secrets travelled in %v, want the token's and the upload-certs' configurations", carried)
	}
	for path := range carried {
		if !containsCommand(host.Commands, "rm -f "+path) {
			t.Errorf("%s, which holds a secret, is not removed: %v", path, host.Commands)
		}
	}
}

func containsCommand(cmds []string, part string) bool {
	for _, c := range cmds {
		if strings.Contains(c, part) {
			return true
		}
	}
	return false
}

// TestInitConfigKeptWithoutSecrets: after kubeadm init, the configuration
// left on the first master has neither the bootstrap token nor the
// certificate key.
func TestInitConfigKeptWithoutSecrets(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.26.15"
	host := &remotetest.FakeHost{Host: "master-1"}
	if err := d.initFirst(context.Background(), &remote.Host{Runner: host, Host: d.masters[0], Dry: true}); err != nil {
		t.Fatal(err)
	}
	var configs []string
	for i, p := range host.Uploads {
		if p == kubeadm.ConfigPath {
			configs = append(configs, host.Contents[i])
		}
	}
	if len(configs) != 2 || !tokenRE.MatchString(configs[0]) || !strings.Contains(configs[0], "certificateKey") {
		t.Fatalf("kubeadm init's configurations: %q", configs)
	}
	if last := configs[1]; tokenRE.MatchString(last) || strings.Contains(last, "certificateKey") || !strings.Contains(last, "kubernetesVersion: \"v1.26.15\"") {
		t.Errorf("the configuration kept after init:\n%s", last)
	}
	if !strings.Contains(configs[0], "apiVersion: kubeadm.k8s.io/v1beta3") {
		t.Errorf("Kubernetes 1.26 gets a configuration kubeadm 1.26 cannot read:\n%s", configs[0])
	}
}

// TestKubeadmNode: the node's kubeadm build decides the preflight checks
// it skips, and a kubeadm of another version than the bundle's Kubernetes
// is refused before kubeadm runs.
func TestKubeadmNode(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.26.15"
	version := func(git, goVersion string) *remotetest.FakeHost {
		return &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{{Match: "kubeadm version -o json",
			Stdout: `{"clientVersion": {"gitVersion": "` + git + `", "goVersion": "` + goVersion + `"}}`}}}
	}
	ctx := context.Background()
	n, err := d.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.26.8"), Host: d.masters[0]})
	if err != nil || strings.Join(n.Ignore, " ") != kubeadm.CheckHTTPProxyCIDR {
		t.Errorf("kubeadm 1.26 built with go1.26: %+v %v", n, err)
	}
	n, err = d.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.21.13"), Host: d.masters[0]})
	if err != nil || len(n.Ignore) != 0 {
		t.Errorf("upstream's kubeadm 1.26: %+v %v", n, err)
	}
	if _, err := d.kubeadmNode(ctx, &remote.Host{Runner: version("v1.34.4", "go1.26.8"), Host: d.masters[0]}); err == nil || !strings.Contains(err.Error(), "kubeadm on master-1 is v1.34.4") {
		t.Errorf("a kubeadm of another version: %v", err)
	}
	d.cfg.AllowIncompatible = []string{compat.RowKernelKubeadm}
	n, err = d.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.21.13"), Host: d.masters[0]})
	if err != nil || strings.Join(n.Ignore, " ") != kubeadm.CheckSystemVerification {
		t.Errorf("with the kernel row overridden: %+v %v", n, err)
	}
}

// TestSandboxImageOfTheRelease: containerd runs pods with the pause image
// the bundle's kubeadm expects, whatever other pause tags the bundle
// carries (the KubeSphere stack carries 3.6 and 3.8 for the runtimes'
// defaults too).
func TestSandboxImageOfTheRelease(t *testing.T) {
	idx := &bundle.Index{Images: []bundle.Image{{Name: "registry.k8s.io/pause:3.6"}, {Name: "registry.k8s.io/pause:3.8"},
		{Name: "registry.k8s.io/pause:3.9"}, {Name: "registry.k8s.io/kube-apiserver:v1.26.15"}}}
	if got := sandboxImage(idx); got != "registry.k8s.io/pause:3.9" {
		t.Errorf("1.26: %s", got)
	}
	idx.Images[3].Name = "registry.k8s.io/kube-apiserver:v1.34.4"
	if got := sandboxImage(idx); got != "registry.k8s.io/pause:3.10.1" {
		t.Errorf("1.34: %s", got)
	}
	if got := sandboxImage(&bundle.Index{Images: idx.Images[1:2]}); got != "registry.k8s.io/pause:3.8" {
		t.Errorf("no Kubernetes: %s", got)
	}
	if got := sandboxImage(&bundle.Index{}); got != hostconf.DefaultSandboxImage {
		t.Errorf("nothing: %s", got)
	}
}
