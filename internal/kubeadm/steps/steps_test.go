package steps

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
	"github.com/factory-appliance/appliance/internal/sshx"
)

var tokenRE = regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`)

// masters are the unit site's masters (testSite).
var masters = []inventory.Host{
	{Name: "master-1", Address: "10.9.0.11", Roles: []inventory.Role{inventory.RoleMaster}},
	{Name: "master-2", Address: "10.9.0.12", Roles: []inventory.Role{inventory.RoleMaster}},
}

// testSite is the steps' view of a site of two masters behind a VIP and a
// worker, deploying Kubernetes v1.26.15, with its state in a new directory.
// Its Dial fails: the unit tests never dial.
func testSite(t *testing.T) *Site {
	t.Helper()
	inv := &inventory.Inventory{Site: "unit",
		Hosts:     append(slices.Clone(masters), inventory.Host{Name: "worker-1", Address: "10.9.0.21", Roles: []inventory.Role{inventory.RoleWorker}}),
		APIServer: inventory.APIServer{VIP: "10.9.0.100", Port: 6443},
	}
	inv.Network.PodCIDR, inv.Network.ServiceCIDR = "10.244.0.0/16", "10.96.0.0/12"
	return &Site{Cluster: kubeadm.SiteCluster(inv, "v1.26.15"), Index: &bundle.Index{Name: "unit", Version: "1"},
		State: state.Dir(t.TempDir()), Redactor: sshx.NewRedactor(), First: masters[0], Masters: 2, Nodes: 3,
		Dial: func(context.Context, inventory.Host) (sshx.Runner, error) {
			return nil, errors.New("the unit tests never dial")
		}}
}

// TestSecretsNeverOnACommandLine: the join token and the certificate key
// reach kubeadm in files (mode 0600) that are removed after use, never on
// a command line, where any local user of the first master could read
// them from /proc/*/cmdline.
func TestSecretsNeverOnACommandLine(t *testing.T) {
	s := testSite(t)
	host := &remotetest.FakeHost{Host: "master-2"}
	h := &remote.Host{Runner: host, Host: masters[1], Dry: true}
	j, err := s.joinSecrets(context.Background(), h, true)
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
	s := testSite(t)
	host := &remotetest.FakeHost{Host: "master-1"}
	if err := s.InitFirst(context.Background(), &remote.Host{Runner: host, Host: s.First, Dry: true}); err != nil {
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
	s := testSite(t)
	version := func(git, goVersion string) *remotetest.FakeHost {
		return &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{{Match: "kubeadm version -o json",
			Stdout: `{"clientVersion": {"gitVersion": "` + git + `", "goVersion": "` + goVersion + `"}}`}}}
	}
	ctx := context.Background()
	n, err := s.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.26.8"), Host: s.First})
	if err != nil || strings.Join(n.Ignore, " ") != kubeadm.CheckHTTPProxyCIDR {
		t.Errorf("kubeadm 1.26 built with go1.26: %+v %v", n, err)
	}
	n, err = s.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.21.13"), Host: s.First})
	if err != nil || len(n.Ignore) != 0 {
		t.Errorf("upstream's kubeadm 1.26: %+v %v", n, err)
	}
	if _, err := s.kubeadmNode(ctx, &remote.Host{Runner: version("v1.34.4", "go1.26.8"), Host: s.First}); err == nil || !strings.Contains(err.Error(), "kubeadm on master-1 is v1.34.4") {
		t.Errorf("a kubeadm of another version: %v", err)
	}
	s.AllowIncompatible = []string{compat.RowKernelKubeadm}
	n, err = s.kubeadmNode(ctx, &remote.Host{Runner: version("v1.26.15", "go1.21.13"), Host: s.First})
	if err != nil || strings.Join(n.Ignore, " ") != kubeadm.CheckSystemVerification {
		t.Errorf("with the kernel row overridden: %+v %v", n, err)
	}
}

// TestFetchKubeconfigChecksTheMastersFile: the first master's admin.conf
// is copied only when it is of kubeadm's shape and names the endpoint
// deploy configured (the VIP's, here); what lands in the state directory
// is rebuilt from the parsed fields. An exec plugin or another server is
// refused, naming the field, and nothing is written.
func TestFetchKubeconfigChecksTheMastersFile(t *testing.T) {
	s := testSite(t)
	if got := s.Cluster.Endpoint; got != "10.9.0.100:6443" {
		t.Fatalf("Cluster.Endpoint = %q, want the VIP's", got)
	}
	pki, err := kubeconfigtest.New("https://10.9.0.100:6443")
	if err != nil {
		t.Fatal(err)
	}
	good := string(pki.Admin.Marshal())
	b64 := base64.StdEncoding.EncodeToString
	fetch := func(conf string) error {
		h := &remote.Host{Runner: &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{{Match: "cat " + kubeadm.AdminConf, Stdout: conf}}}, Host: s.First}
		return s.FetchKubeconfig(context.Background(), h)
	}
	for _, c := range []struct{ name, conf, want string }{
		{"exec", strings.Replace(good, "  user:\n", "  user:\n    exec: {command: /bin/sh, args: [-c, id]}\n", 1), "users[0].user.exec"},
		{"token file", strings.Replace(good, "  user:\n", "  user:\n    tokenFile: /etc/shadow\n", 1), "users[0].user.tokenFile"},
		{"other server", strings.Replace(good, "10.9.0.100:6443", "10.9.0.11:6443", 1), "clusters[0].cluster.server"},
	} {
		err := fetch(c.conf)
		var ke *kubeconfig.Error
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), kubeadm.AdminConf+" on master-1") {
			t.Errorf("%s: %v, want a refusal naming %s on master-1 and %s", c.name, err, kubeadm.AdminConf, c.want)
		}
		if _, err := os.Stat(s.State.KubeconfigPath()); err == nil {
			t.Fatalf("%s: a refused kubeconfig was written to the state directory", c.name)
		}
	}
	// kubeadm's own layout, with preferences: {} and its key order.
	kubeadm := "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + b64(pki.Admin.CAData) +
		"\n    server: https://10.9.0.100:6443\n  name: unit\ncontexts:\n- context:\n    cluster: unit\n    user: kubernetes-admin\n" +
		"  name: kubernetes-admin@unit\ncurrent-context: kubernetes-admin@unit\nkind: Config\npreferences: {}\nusers:\n- name: kubernetes-admin\n" +
		"  user:\n    client-certificate-data: " + b64(pki.Admin.CertData) + "\n    client-key-data: " + b64(pki.Admin.KeyData) + "\n"
	if err := fetch(kubeadm); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.State.KubeconfigPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state kubeconfig %v %v, want mode 0600", fi, err)
	}
	a, err := kubeconfig.Load(s.State.KubeconfigPath(), "10.9.0.100:6443")
	if err != nil || a.Cluster != "unit" || string(a.KeyData) != string(pki.Admin.KeyData) {
		t.Errorf("the state directory's kubeconfig: %+v, %v", a, err)
	}
}
