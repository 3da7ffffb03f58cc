package kubeadm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
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
)

const testCertKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const testToken = "abcdef.0123456789abcdef"

func testCluster(version string) (Cluster, []Node) {
	masters := []Node{{Name: "master-1", Address: "10.9.0.11"}, {Name: "master-2", Address: "10.9.0.12"}}
	return Cluster{Name: "unit", Version: version, Endpoint: "10.9.0.100:6443", Port: 6443,
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
			if errors.Is(err, io.EOF) {
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

func mustInit(t *testing.T, c Cluster, n Node, s Secrets) string {
	t.Helper()
	cfg, err := RenderInit(c, n, s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustJoin(t *testing.T, c Cluster, n Node, j Join) string {
	t.Helper()
	cfg, err := RenderJoin(c, n, j)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// kubeletArgs returns nodeRegistration.kubeletExtraArgs of a decoded kind
// as name → value, failing when its shape is not the one api has.
func kubeletArgs(t *testing.T, api *API, m map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	raw := field(m, "nodeRegistration", "kubeletExtraArgs")
	if api.ArgList {
		list, ok := raw.([]any)
		if !ok {
			t.Fatalf("%s: kubeletExtraArgs is %T, want a list of {name, value}", api.Group, raw)
		}
		for _, e := range list {
			kv := e.(map[string]any)
			out[kv["name"].(string)] = kv["value"].(string)
		}
		return out
	}
	mm, ok := raw.(map[string]any)
	if !ok {
		t.Fatalf("%s: kubeletExtraArgs is %T, want a map", api.Group, raw)
	}
	for k, v := range mm {
		out[k] = v.(string)
	}
	return out
}

// TestRenderEveryRelease renders init and join for every minor of the
// window and checks the parts that differ: the API version and the shape
// of kubeletExtraArgs; and the parts that do not.
func TestRenderEveryRelease(t *testing.T) {
	for _, r := range Releases() {
		version := fmt.Sprintf("v1.%d.3", r.Minor)
		t.Run(version, func(t *testing.T) {
			c, masters := testCluster(version)
			init := docs(t, mustInit(t, c, masters[0], Secrets{Token: testToken, CertificateKey: testCertKey}))
			want := "kubeadm.k8s.io/v1beta4"
			if r.Minor < 31 {
				want = "kubeadm.k8s.io/v1beta3"
			}
			for _, kind := range []string{"InitConfiguration", "ClusterConfiguration"} {
				if got := field(init[kind], "apiVersion"); got != want {
					t.Errorf("%s apiVersion %v, want %s", kind, got, want)
				}
			}
			if got := kubeletArgs(t, r.API, init["InitConfiguration"]); got["node-ip"] != "10.9.0.11" || len(got) != 1 {
				t.Errorf("init kubeletExtraArgs %v", got)
			}
			for path, v := range map[string]any{"localAPIEndpoint.advertiseAddress": "10.9.0.11", "certificateKey": testCertKey,
				"nodeRegistration.name": "master-1", "nodeRegistration.criSocket": CRISocket, "patches.directory": PatchesDir} {
				if got := field(init["InitConfiguration"], strings.Split(path, ".")...); got != v {
					t.Errorf("InitConfiguration %s = %v, want %v", path, got, v)
				}
			}
			for path, v := range map[string]any{"controlPlaneEndpoint": "10.9.0.100:6443", "kubernetesVersion": version,
				"imageRepository": "registry.k8s.io", "networking.podSubnet": "10.244.0.0/16", "clusterName": "unit"} {
				if got := field(init["ClusterConfiguration"], strings.Split(path, ".")...); got != v {
					t.Errorf("ClusterConfiguration %s = %v, want %v", path, got, v)
				}
			}
			if field(init["KubeletConfiguration"], "cgroupDriver") != "cgroupfs" || field(init["KubeletConfiguration"], "resolvConf") != KubeletResolvConf {
				t.Errorf("KubeletConfiguration %v", init["KubeletConfiguration"])
			}
			if field(init["KubeProxyConfiguration"], "conntrack", "maxPerCore") != 0 {
				t.Errorf("KubeProxyConfiguration %v", init["KubeProxyConfiguration"])
			}
			join := docs(t, mustJoin(t, c, Node{Name: "worker-1", Address: "10.9.0.21"}, Join{Token: testToken, CAHash: "sha256:00"}))["JoinConfiguration"]
			if field(join, "apiVersion") != want || kubeletArgs(t, r.API, join)["node-ip"] != "10.9.0.21" {
				t.Errorf("worker join: %v", join)
			}
			if !strings.HasPrefix(r.SandboxImage(), "registry.k8s.io/pause:3.") {
				t.Errorf("sandbox image %s", r.SandboxImage())
			}
		})
	}
}

// TestWindow: versions outside the window, and strings that are no
// version, are refused, naming the range.
func TestWindow(t *testing.T) {
	for _, v := range []string{"v1.25.16", "v1.35.0", "v2.26.0", "v1.9.0"} {
		_, err := ForVersion(v)
		if !errors.Is(err, ErrOutsideWindow) || !strings.Contains(err.Error(), "v1.26–v1.34") {
			t.Errorf("%s: %v", v, err)
		}
		c, masters := testCluster(v)
		if _, err := RenderInit(c, masters[0], Secrets{}); err == nil {
			t.Errorf("%s rendered", v)
		}
	}
	for _, v := range []string{"", "1.26", "v1.26.x", "v1.26.015", "latest"} {
		if _, err := ForVersion(v); err == nil || errors.Is(err, ErrOutsideWindow) {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range []string{"v1.26.15", "1.26.15", "v1.34.4", "v1.30.0-rc.1"} {
		if _, err := ForVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	r, _ := ForVersion("v1.26.15")
	if r.SandboxImage() != "registry.k8s.io/pause:3.9" || r.API.Group != "kubeadm.k8s.io/v1beta3" {
		t.Errorf("1.26: %+v", r)
	}
	if r, _ := ForVersion("v1.34.4"); r.SandboxImage() != "registry.k8s.io/pause:3.10.1" || r.API.Group != "kubeadm.k8s.io/v1beta4" {
		t.Errorf("1.34: %+v", r)
	}
}

func TestSecretsInConfigurations(t *testing.T) {
	c, masters := testCluster("v1.26.15")
	kept := docs(t, mustInit(t, c, masters[0], Secrets{}))["InitConfiguration"]
	if field(kept, "bootstrapTokens") != nil || field(kept, "certificateKey") != nil {
		t.Errorf("the configuration kept after init carries secrets: %v", kept)
	}
	upload := docs(t, mustInit(t, c, masters[0], Secrets{CertificateKey: testCertKey}))["InitConfiguration"]
	if field(upload, "bootstrapTokens") != nil || field(upload, "certificateKey") != testCertKey {
		t.Errorf("upload-certs configuration: %v", upload)
	}
	token := docs(t, mustInit(t, c, masters[0], Secrets{Token: testToken, TokenDescription: "join of worker-1"}))["InitConfiguration"]
	toks, _ := field(token, "bootstrapTokens").([]any)
	if len(toks) != 1 || toks[0].(map[string]any)["token"] != testToken || toks[0].(map[string]any)["description"] != "join of worker-1" ||
		toks[0].(map[string]any)["ttl"] != "15m0s" || field(token, "certificateKey") != nil {
		t.Errorf("token configuration: %v", token)
	}
}

func TestPreflightIgnoresInConfigurations(t *testing.T) {
	for _, version := range []string{"v1.26.15", "v1.34.4"} {
		c, masters := testCluster(version)
		worker := Node{Name: "worker-1", Address: "10.9.0.21"}
		j := Join{Token: testToken, CAHash: "sha256:00", CertificateKey: testCertKey}
		ignores := func(cfg string, kind string) []string {
			var out []string
			for _, v := range asList(field(docs(t, cfg)[kind], "nodeRegistration", "ignorePreflightErrors")) {
				out = append(out, v.(string))
			}
			return out
		}
		// haproxy shares the port on masters only, and only with a VIP.
		if got := ignores(mustJoin(t, c, masters[1], j), "JoinConfiguration"); strings.Join(got, " ") != "Port-6443" {
			t.Errorf("%s master join ignores %v", version, got)
		}
		if got := ignores(mustInit(t, c, masters[0], Secrets{}), "InitConfiguration"); strings.Join(got, " ") != "Port-6443" {
			t.Errorf("%s init ignores %v", version, got)
		}
		j.CertificateKey = ""
		if got := ignores(mustJoin(t, c, worker, j), "JoinConfiguration"); len(got) != 0 {
			t.Errorf("%s worker ignores %v", version, got)
		}
		worker.Ignore = []string{CheckHTTPProxyCIDR, CheckHTTPProxyCIDR}
		if got := ignores(mustJoin(t, c, worker, j), "JoinConfiguration"); strings.Join(got, " ") != "HTTPProxyCIDR" {
			t.Errorf("%s worker with a node's ignores: %v", version, got)
		}
		c.SharedPort = false
		masters[0].Ignore = []string{CheckSystemVerification}
		if got := ignores(mustInit(t, c, masters[0], Secrets{}), "InitConfiguration"); strings.Join(got, " ") != "SystemVerification" {
			t.Errorf("%s single master ignores %v", version, got)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestRenderJoin(t *testing.T) {
	c, masters := testCluster("v1.26.15")
	j := Join{Token: testToken, CAHash: "sha256:00"}
	worker := Node{Name: "worker-1", Address: "10.9.0.21"}
	w := docs(t, mustJoin(t, c, worker, j))["JoinConfiguration"]
	if field(w, "controlPlane") != nil || field(w, "discovery", "bootstrapToken", "apiServerEndpoint") != "10.9.0.100:6443" ||
		field(w, "discovery", "bootstrapToken", "token") != testToken {
		t.Errorf("worker join: %v", w)
	}
	j.CertificateKey = testCertKey
	m := docs(t, mustJoin(t, c, masters[1], j))["JoinConfiguration"]
	if field(m, "controlPlane", "localAPIEndpoint", "advertiseAddress") != "10.9.0.12" || field(m, "controlPlane", "certificateKey") != testCertKey {
		t.Errorf("master join: %v", m)
	}
	c.LeaveConntrack = false
	if strings.Contains(mustInit(t, c, masters[0], Secrets{}), "maxPerCore") {
		t.Error("conntrack left alone on a host that may set it")
	}
}

// TestRealKubeadmReadsTheConfigurations has the real kubeadm of each
// version built here read the configurations rendered for it:
//
//   - APPLIANCE_K8S_BIN (scripts/k8s/build.sh's bin/, Kubernetes v1.26.15):
//     kubeadm 1.26 has no `config validate`; `config migrate` decodes and
//     validates every kind (v1beta3) and fails on what it refuses;
//   - APPLIANCE_KUBEADM_VALIDATE (kubeadm v1.34.4, built beside it):
//     `config validate` of the v1beta4 configurations of 1.34 and 1.33
//     (it refuses versions more than one minor older).
//
// Without either variable the configurations are checked by decoding only.
func TestRealKubeadmReadsTheConfigurations(t *testing.T) {
	ran := false
	if dir := os.Getenv("APPLIANCE_K8S_BIN"); dir != "" {
		kubeadm := filepath.Join(dir, "kubeadm")
		out, err := exec.Command(kubeadm, "version", "-o", "short").Output()
		if err != nil {
			t.Fatalf("%s version: %v", kubeadm, err)
		}
		version := strings.TrimSpace(string(out))
		for name, cfg := range configurations(t, version) {
			t.Run(version+"/"+name, func(t *testing.T) { kubeadmMigrate(t, kubeadm, cfg) })
		}
		ran = true
	}
	if kubeadm := os.Getenv("APPLIANCE_KUBEADM_VALIDATE"); kubeadm != "" {
		for _, version := range []string{"v1.34.4", "v1.33.6"} {
			for name, cfg := range configurations(t, version) {
				t.Run(version+"/"+name, func(t *testing.T) { kubeadmValidate(t, kubeadm, cfg) })
			}
		}
		ran = true
	}
	if !ran {
		t.Skip("no kubeadm built here (scripts/k8s/build.sh; APPLIANCE_K8S_BIN=DIR/bin, APPLIANCE_KUBEADM_VALIDATE=DIR/validate/kubeadm-v1.34.4)")
	}
}

// configurations are every configuration deploy renders, for version.
func configurations(t *testing.T, version string) map[string]string {
	c, masters := testCluster(version)
	masters[0].Ignore = []string{CheckHTTPProxyCIDR}
	worker := Node{Name: "worker-1", Address: "10.9.0.21"}
	return map[string]string{
		"init":         mustInit(t, c, masters[0], Secrets{Token: testToken, CertificateKey: testCertKey}),
		"token":        mustInit(t, c, masters[0], Secrets{Token: testToken, TokenDescription: "join of worker-1"}),
		"upload-certs": mustInit(t, c, masters[0], Secrets{CertificateKey: testCertKey}),
		"kept":         mustInit(t, c, masters[0], Secrets{}),
		"join-master":  mustJoin(t, c, masters[1], Join{Token: testToken, CAHash: "sha256:" + strings.Repeat("0", 64), CertificateKey: testCertKey}),
		"join-worker":  mustJoin(t, c, worker, Join{Token: testToken, CAHash: "sha256:" + strings.Repeat("0", 64)}),
	}
}

func kubeadmValidate(t *testing.T, kubeadm, cfg string) {
	f := filepath.Join(t.TempDir(), "kubeadm.yaml")
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(kubeadm, "config", "validate", "--config", f).CombinedOutput(); err != nil {
		t.Errorf("kubeadm config validate: %v\n%s\n%s", err, out, cfg)
	}
}

func kubeadmMigrate(t *testing.T, kubeadm, cfg string) {
	dir := t.TempDir()
	f := filepath.Join(dir, "kubeadm.yaml")
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubeadm, "config", "migrate", "--old-config", f, "--new-config", filepath.Join(dir, "new.yaml")).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("unknown field")) || bytes.Contains(out, []byte("strict decoding error")) {
		t.Errorf("kubeadm config migrate: %v\n%s\n%s", err, out, cfg)
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
	self := Node{Name: "master-1", Address: "127.0.0.1"}
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

// TestCACertHash compares the discovery hash with the one kubeadm's
// documentation computes with openssl.
func TestCACertHash(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
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
	if _, err := CACertHash([]byte("not a certificate")); err == nil || !strings.Contains(err.Error(), CACert) {
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
