package kubeconfig_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
)

const endpoint = "10.0.0.10:6443"

// kubeadmConf is admin.conf as kubeadm writes it (its field order, its
// names, preferences: {}), for pki.
func kubeadmConf(t testing.TB, server string) (string, *kubeconfig.Admin) {
	t.Helper()
	pki, err := kubeconfigtest.New(server)
	if err != nil {
		t.Fatal(err)
	}
	a := pki.Admin
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: %s
    server: %s
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: %s
    client-key-data: %s
`, b64(a.CAData), server, b64(a.CertData), b64(a.KeyData)), a
}

func TestParseKubeadmAdminConf(t *testing.T) {
	text, want := kubeadmConf(t, "https://"+endpoint)
	a, err := kubeconfig.Parse("admin.conf", []byte(text), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if a.Server != want.Server || !bytes.Equal(a.CAData, want.CAData) || !bytes.Equal(a.CertData, want.CertData) ||
		!bytes.Equal(a.KeyData, want.KeyData) || a.Cluster != "kubernetes" || a.User != "kubernetes-admin" || a.Context != "kubernetes-admin@kubernetes" {
		t.Errorf("parsed %+v", a)
	}
	rc := a.RESTConfig()
	if rc.Host != a.Server || rc.ExecProvider != nil || rc.AuthProvider != nil || rc.BearerTokenFile != "" ||
		rc.CAFile != "" || rc.CertFile != "" || rc.KeyFile != "" || rc.Proxy != nil || rc.Insecure ||
		!bytes.Equal(rc.CAData, a.CAData) || !bytes.Equal(rc.CertData, a.CertData) || !bytes.Equal(rc.KeyData, a.KeyData) {
		t.Errorf("rest.Config %+v is not built from the parsed fields alone", rc)
	}
	again, err := kubeconfig.Parse("marshalled", a.Marshal(), endpoint)
	if err != nil || fmt.Sprint(*again) != fmt.Sprint(*a) {
		t.Errorf("Marshal does not parse back: %v\n%s", err, a.Marshal())
	}
	// The endpoint compares IPv6 addresses in their canonical form.
	text6, _ := kubeadmConf(t, "https://[FD00:0::10]:6443")
	if _, err := kubeconfig.Parse("admin.conf", []byte(text6), "[fd00::10]:6443"); err != nil {
		t.Errorf("IPv6 endpoint: %v", err)
	}
}

// TestParseRefuses: every field kubeadm does not write is refused, naming
// it; so are a second cluster, user or context, YAML tricks, bad data and
// another server than deploy's.
func TestParseRefuses(t *testing.T) {
	text, _ := kubeadmConf(t, "https://"+endpoint)
	userAt := "  user:\n"
	clusterAt := "- cluster:\n"
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"exec", userAt, userAt + "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, id]}\n", "users[0].user.exec (line"},
		{"auth-provider", userAt, userAt + "    auth-provider: {name: oidc}\n", "users[0].user.auth-provider"},
		{"tokenFile", userAt, userAt + "    tokenFile: /etc/shadow\n", "users[0].user.tokenFile"},
		{"token", userAt, userAt + "    token: abc\n", "users[0].user.token"},
		{"client-certificate path", userAt, userAt + "    client-certificate: /root/.ssh/id_ed25519\n", "users[0].user.client-certificate"},
		{"client-key path", userAt, userAt + "    client-key: /root/.ssh/id_ed25519\n", "users[0].user.client-key"},
		{"username", userAt, userAt + "    username: admin\n", "users[0].user.username"},
		{"impersonation", userAt, userAt + "    as: system:admin\n", "users[0].user.as"},
		{"ca path", clusterAt, clusterAt + "    certificate-authority: /etc/ssl/ca.pem\n", "clusters[0].cluster.certificate-authority"},
		{"proxy-url", clusterAt, clusterAt + "    proxy-url: http://10.0.0.99:3128\n", "clusters[0].cluster.proxy-url"},
		{"insecure", clusterAt, clusterAt + "    insecure-skip-tls-verify: true\n", "clusters[0].cluster.insecure-skip-tls-verify"},
		{"tls-server-name", clusterAt, clusterAt + "    tls-server-name: evil\n", "clusters[0].cluster.tls-server-name"},
		{"extensions", clusterAt, clusterAt + "    extensions: []\n", "clusters[0].cluster.extensions"},
		{"unknown top field", "kind: Config\n", "kind: Config\nexec: x\n", "exec"},
		{"unknown field", "kind: Config\n", "kind: Config\nnotkubeadm: x\n", "notkubeadm (line"},
		{"second user", "users:\n", "users:\n- {name: other, user: {token: x}}\n", "users (line"},
		{"duplicate key", "kind: Config\n", "kind: Config\nkind: Config\n", "kind (line"},
		{"anchor", "kind: Config\n", "kind: &k Config\n", "anchor"},
		{"merge key", "preferences: {}\n", "preferences: {<<: {}}\n", "preferences.<<"},
		{"tag", "kind: Config\n", "kind: !!str Config\n", "tag"},
		{"other server", "server: https://" + endpoint, "server: https://10.0.0.66:6443", "clusters[0].cluster.server"},
		{"http", "server: https://" + endpoint, "server: http://" + endpoint, "https://HOST:PORT"},
		{"path", "server: https://" + endpoint, "server: https://" + endpoint + "/api", "https://HOST:PORT"},
		{"userinfo", "server: https://" + endpoint, "server: https://u:p@" + endpoint, "https://HOST:PORT"},
		{"context mismatch", "current-context: kubernetes-admin@kubernetes", "current-context: other", "current-context"},
		{"context user", "    user: kubernetes-admin\n", "    user: someone\n", "contexts[0].context.user"},
		{"not base64", "client-key-data: ", "client-key-data: '%%%'\n    x-: ", "client-key-data"},
		{"kind", "kind: Config", "kind: Secret", "kind"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(text, c.from) {
				t.Fatalf("test edit: %q not in the kubeconfig", c.from)
			}
			bad := strings.Replace(text, c.from, c.to, 1)
			_, err := kubeconfig.Parse("admin.conf", []byte(bad), endpoint)
			var ke *kubeconfig.Error
			if !errors.As(err, &ke) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "kubeconfig admin.conf") {
				t.Errorf("got %v, want a *kubeconfig.Error naming %q", err, c.want)
			}
		})
	}
}

// TestParseRefusesNoUser: a kubeconfig without its user is refused.
func TestParseRefusesNoUser(t *testing.T) {
	text, _ := kubeadmConf(t, "https://"+endpoint)
	bad := text[:strings.Index(text, "users:")] + "users: []\n"
	if _, err := kubeconfig.Parse("admin.conf", []byte(bad), endpoint); err == nil || !strings.Contains(err.Error(), "users (line 15): 0 entries") {
		t.Errorf("got %v, want the empty user list refused", err)
	}
}

// TestParseRefusesMismatchedKey: a client key of another certificate is
// refused.
func TestParseRefusesMismatchedKey(t *testing.T) {
	text, a := kubeadmConf(t, "https://"+endpoint)
	_, other := kubeadmConf(t, "https://"+endpoint)
	bad := strings.Replace(text, base64.StdEncoding.EncodeToString(a.KeyData), base64.StdEncoding.EncodeToString(other.KeyData), 1)
	if _, err := kubeconfig.Parse("admin.conf", []byte(bad), endpoint); err == nil || !strings.Contains(err.Error(), "not a pair") {
		t.Errorf("got %v, want the pair refused", err)
	}
	bad = strings.Replace(text, base64.StdEncoding.EncodeToString(a.CAData), base64.StdEncoding.EncodeToString(a.KeyData), 1)
	if _, err := kubeconfig.Parse("admin.conf", []byte(bad), endpoint); err == nil || !strings.Contains(err.Error(), "certificate-authority-data") {
		t.Errorf("got %v, want a key as CA refused", err)
	}
}

func TestLoadBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), kubeconfig.MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := kubeconfig.Load(big, endpoint); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized: %v", err)
	}
	if _, err := kubeconfig.Load(dir, endpoint); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// FuzzParse: Parse never panics, and what it accepts marshals to a
// kubeconfig that parses back to the same.
func FuzzParse(f *testing.F) {
	text, _ := kubeadmConf(f, "https://"+endpoint)
	f.Add([]byte(text))
	f.Add([]byte("users: [{name: a, user: {exec: {command: sh}}}]"))
	f.Add([]byte("a: &a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := kubeconfig.Parse("fuzz", data, "")
		if err != nil {
			return
		}
		again, err := kubeconfig.Parse("marshalled", a.Marshal(), "")
		if err != nil || fmt.Sprint(*again) != fmt.Sprint(*a) {
			t.Fatalf("accepted input does not round-trip: %v\n%s", err, a.Marshal())
		}
	})
}
