package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
)

func writeAdmin(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "admin.conf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpen: the client is built from the parsed kubeconfig, pinned to the
// endpoint deploy configured, with the caller's options; Helm's getter
// carries the namespace and the certificate inline, and no file.
func TestOpen(t *testing.T) {
	pki, err := kubeconfigtest.New("https://10.9.0.100:6443")
	if err != nil {
		t.Fatal(err)
	}
	path := writeAdmin(t, pki.Admin.Marshal())
	c, err := Open(path, "10.9.0.100:6443", Options{UserAgent: "ua", Timeout: 3 * time.Second, QPS: 50, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.Host != "https://10.9.0.100:6443" || c.Config.UserAgent != "ua" || c.Config.Timeout != 3*time.Second || c.Config.QPS != 50 || c.Config.Burst != 100 {
		t.Errorf("config %+v", c.Config)
	}
	raw, err := c.Getter("shop").ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := c.Getter("shop").ToRawKubeConfigLoader().Namespace()
	if err != nil || ns != "shop" {
		t.Errorf("namespace %q, %v", ns, err)
	}
	for _, a := range raw.AuthInfos {
		if a.ClientCertificate != "" || a.ClientKey != "" || a.Exec != nil || a.AuthProvider != nil || len(a.ClientCertificateData) == 0 {
			t.Errorf("Helm's kubeconfig user %+v: want the certificate inline and nothing else", a)
		}
	}
	if _, err := Open(path, "10.9.0.200:6443", Options{}); err == nil {
		t.Error("a kubeconfig naming another server than the pinned endpoint was accepted")
	}
}

// TestOpenRefusesPlugins: a kubeconfig with an exec plugin is refused
// before anything is built.
func TestOpenRefusesPlugins(t *testing.T) {
	pki, err := kubeconfigtest.New("https://10.9.0.100:6443")
	if err != nil {
		t.Fatal(err)
	}
	b := strings.Replace(string(pki.Admin.Marshal()), "\n  user:\n", "\n  user:\n    exec:\n      command: /bin/sh\n", 1)
	if b == string(pki.Admin.Marshal()) {
		t.Fatal("the test could not add an exec plugin")
	}
	if _, err := Open(writeAdmin(t, []byte(b)), "", Options{}); err == nil {
		t.Error("a kubeconfig with an exec plugin was accepted")
	} else if !strings.Contains(err.Error(), "exec") {
		t.Errorf("refused for another reason: %v", err)
	}
}
