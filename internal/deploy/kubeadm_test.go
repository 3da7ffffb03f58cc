package deploy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
)

const testCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var tokenRE = regexp.MustCompile(`[a-z0-9]{6}\.[a-z0-9]{16}`)

func testCluster() (Cluster, []inventory.Host) {
	masters := []inventory.Host{{Name: "master-1", Address: "10.9.0.11"}, {Name: "master-2", Address: "10.9.0.12"}}
	return Cluster{Name: "unit", Version: "v1.34.4", Endpoint: "10.9.0.100:6443", Port: 6443,
		PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", CgroupDriver: "cgroupfs",
		CertSANs: []string{"10.9.0.100", "10.9.0.11", "master-1"}, LeaveConntrack: true, SharedPort: true}, masters
}

// docs decodes a multi-document YAML into maps, by kind.
func docs(t *testing.T, s string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, s)
		}
		out[m["kind"].(string)] = m
	}
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestRenderKubeadmInit(t *testing.T) {
	c, masters := testCluster()
	s := RenderKubeadmInit(c, masters[0], "abcdef.0123456789abcdef", testCertKey)
	d := docs(t, s)
	for kind, want := range map[string]map[string]any{
		"InitConfiguration": {"localAPIEndpoint.advertiseAddress": "10.9.0.11", "certificateKey": testCertKey,
			"nodeRegistration.name": "master-1", "nodeRegistration.criSocket": criSocket, "patches.directory": KubeadmPatches},
		"ClusterConfiguration": {"controlPlaneEndpoint": "10.9.0.100:6443", "kubernetesVersion": "v1.34.4",
			"imageRepository": "registry.k8s.io", "networking.podSubnet": "10.244.0.0/16", "clusterName": "unit"},
		"KubeletConfiguration":   {"cgroupDriver": "cgroupfs", "resolvConf": KubeletResolvConf},
		"KubeProxyConfiguration": {"conntrack.maxPerCore": 0},
	} {
		for path, v := range want {
			if got := field(d[kind], strings.Split(path, ".")...); got != v {
				t.Errorf("%s %s = %v, want %v", kind, path, got, v)
			}
		}
	}
	if got := field(d["InitConfiguration"], "nodeRegistration", "kubeletExtraArgs"); !strings.Contains(yamlString(t, got), "10.9.0.11") {
		t.Errorf("kubelet's node-ip is not the master's address: %v", got)
	}
	// The configuration of later phases (upload-certs) carries no token.
	later := RenderKubeadmInit(c, masters[0], "", testCertKey)
	if field(docs(t, later)["InitConfiguration"], "bootstrapTokens") != nil || field(docs(t, later)["InitConfiguration"], "certificateKey") != testCertKey {
		t.Errorf("the configuration of kubeadm init phase upload-certs:\n%s", later)
	}
	validateWithKubeadm(t, later)
	c.LeaveConntrack = false
	if strings.Contains(RenderKubeadmInit(c, masters[0], "t", "k"), "maxPerCore") {
		t.Error("conntrack left alone on a host that may set it")
	}
	validateWithKubeadm(t, s)
}

func TestRenderKubeadmJoin(t *testing.T) {
	c, masters := testCluster()
	j := Join{Token: "abcdef.0123456789abcdef", CAHash: "sha256:00"}
	worker := inventory.Host{Name: "worker-1", Address: "10.9.0.21"}
	w := docs(t, RenderKubeadmJoin(c, worker, j))["JoinConfiguration"]
	if field(w, "controlPlane") != nil || field(w, "discovery", "bootstrapToken", "apiServerEndpoint") != "10.9.0.100:6443" {
		t.Errorf("worker join: %v", w)
	}
	j.CertificateKey = testCertKey
	m := docs(t, RenderKubeadmJoin(c, masters[1], j))["JoinConfiguration"]
	if field(m, "controlPlane", "localAPIEndpoint", "advertiseAddress") != "10.9.0.12" || field(m, "controlPlane", "certificateKey") != testCertKey {
		t.Errorf("master join: %v", m)
	}
	validateWithKubeadm(t, RenderKubeadmJoin(c, masters[1], j))

	// haproxy shares the port on masters only, and only with a VIP.
	ignores := func(cfg map[string]any) bool {
		return strings.Contains(yamlString(t, field(cfg, "nodeRegistration", "ignorePreflightErrors")), "Port-6443")
	}
	if !ignores(m) || !ignores(docs(t, RenderKubeadmInit(c, masters[0], "t", "k"))["InitConfiguration"]) {
		t.Error("a master behind haproxy on the same port runs kubeadm's port check, which always fails there")
	}
	j.CertificateKey = ""
	if ignores(docs(t, RenderKubeadmJoin(c, worker, j))["JoinConfiguration"]) {
		t.Error("a worker skips kubeadm's port check")
	}
	c.SharedPort = false
	if ignores(docs(t, RenderKubeadmInit(c, masters[0], "t", "k"))["InitConfiguration"]) {
		t.Error("a single master without haproxy skips kubeadm's port check")
	}
}

// TestAPIPortCheck runs the check with the real ss against real listeners
// on loopback: one on the master's own address or on every address fails
// it, naming the address; one on another address (as haproxy's on the
// VIP) does not.
func TestAPIPortCheck(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("ss (iproute2) is not installed; make deps installs it")
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	c := Cluster{Port: port}
	self := inventory.Host{Name: "master-1", Address: "127.0.0.1"}
	run := func() (string, error) {
		out, err := exec.Command("sh", "-c", APIPortCheck(c, self)).CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil {
		t.Fatalf("nothing listens on port %d, yet: %v\n%s", port, err, out)
	}
	p := strconv.Itoa(port)
	for _, l := range []struct{ network, addr, named string }{
		{"tcp4", "127.0.0.3", ""}, // another address, as haproxy's on the VIP: no failure
		{"tcp4", "127.0.0.1", "127.0.0.1:" + p},
		{"tcp4", "0.0.0.0", "0.0.0.0:" + p},
		{"tcp", "", ":" + p}, // every address, IPv6 too: ss says *:port or [::]:port
	} {
		ln, err := net.Listen(l.network, net.JoinHostPort(l.addr, p))
		if err != nil {
			t.Fatal(err)
		}
		out, err := run()
		ln.Close()
		if l.named == "" {
			if err != nil {
				t.Errorf("a listener on another address (the VIP's) fails the check: %v\n%s", err, out)
			}
			continue
		}
		if err == nil || !strings.Contains(out, l.named+" on master-1") || !strings.Contains(out, "deploy --resume") {
			t.Errorf("a listener on %q: err %v, output %q; want a failure naming it and the fix", l.addr, err, out)
		}
	}
}

func yamlString(t *testing.T, v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validateWithKubeadm has the real kubeadm check a configuration, when the
// Kubernetes binaries are built (scripts/k8s; APPLIANCE_K8S_BIN or PATH).
func validateWithKubeadm(t *testing.T, cfg string) {
	t.Helper()
	kubeadm := filepath.Join(os.Getenv("APPLIANCE_K8S_BIN"), "kubeadm")
	if os.Getenv("APPLIANCE_K8S_BIN") == "" {
		p, err := exec.LookPath("kubeadm")
		if err != nil {
			t.Log("kubeadm is not built here (scripts/k8s/build.sh, then APPLIANCE_K8S_BIN=DIR): the configuration is checked by the decoding above only")
			return
		}
		kubeadm = p
	}
	f := filepath.Join(t.TempDir(), "kubeadm.yaml")
	writeFile(t, f, []byte(cfg))
	if out, err := exec.Command(kubeadm, "config", "validate", "--config", f).CombinedOutput(); err != nil {
		t.Errorf("kubeadm config validate: %v\n%s\n%s", err, out, cfg)
	}
}

// TestCACertHash compares the discovery hash with the one kubeadm's
// documentation computes with openssl.
func TestCACertHash(t *testing.T) {
	openssl := need(t, "openssl", "openssl")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	got, err := CACertHash(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", openssl+" x509 -pubkey -noout | "+openssl+" pkey -pubin -outform der | sha256sum | cut -d' ' -f1")
	cmd.Stdin = bytes.NewReader(caPEM)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:" + strings.TrimSpace(string(out)); got != want {
		t.Errorf("CACertHash = %s, openssl says %s", got, want)
	}
	if _, err := CACertHash([]byte("not a certificate")); err == nil || !strings.Contains(err.Error(), kubeCA) {
		t.Errorf("garbage CA: %v", err)
	}
}

func TestSecretsAreRandomAndWellFormed(t *testing.T) {
	a, _ := NewBootstrapToken()
	b, _ := NewBootstrapToken()
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(a) || a == b {
		t.Errorf("tokens %q %q", a, b)
	}
	k, _ := NewCertificateKey()
	if len(k) != 64 {
		t.Errorf("certificate key %q", k)
	}
}

func TestKubernetesVersion(t *testing.T) {
	idx := &bundle.Index{Images: []bundle.Image{{Name: "registry.k8s.io/pause:3.10.1"}, {Name: "registry.k8s.io/kube-apiserver:v1.34.4"}}}
	if v := KubernetesVersion(idx); v != "v1.34.4" {
		t.Errorf("version %q", v)
	}
	if v := KubernetesVersion(&bundle.Index{}); v != "" {
		t.Errorf("a bundle without Kubernetes: %q", v)
	}
	if m := missingImages(idx, []string{"registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.4-0"}); len(m) != 1 || m[0] != "registry.k8s.io/etcd:3.6.4-0" {
		t.Errorf("missing %v", m)
	}
}

// TestKubernetesPhases: a bundle with Kubernetes gets /kubernetes after
// /ha: init on the first master, the other masters one at a time, the
// workers, each node's network, then the readiness check.
func TestKubernetesPhases(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.34.4"
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
	for _, w := range []string{"kubeadm init --config " + KubeadmConfig + " --upload-certs", "[on master-1] kubeadm token create",
		"kubeadm join --config " + KubeadmConfig, "[on master-1] kubeadm init phase upload-certs", "/v3/cluster/member/list"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q", w)
		}
	}
	if tok := tokenRE.FindString(out.String()); tok != "" {
		t.Errorf("dry run shows a join token %s", tok)
	}
}
