package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// TestFetchKubeconfigChecksTheMastersFile: the first master's admin.conf
// is copied only when it is of kubeadm's shape and names the endpoint
// deploy configured (the VIP's, here); what lands in the state directory
// is rebuilt from the parsed fields. An exec plugin or another server is
// refused, naming the field, and nothing is written.
func TestFetchKubeconfigChecksTheMastersFile(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	state := t.TempDir()
	d := s.open(t, state)
	if got := d.apiEndpoint(); got != "10.9.0.100:6443" {
		t.Fatalf("apiEndpoint = %q, want the VIP's", got)
	}
	pki, err := kubeconfigtest.New("https://10.9.0.100:6443")
	if err != nil {
		t.Fatal(err)
	}
	good := string(pki.Admin.Marshal())
	b64 := base64.StdEncoding.EncodeToString
	fetch := func(conf string) error {
		h := &remote.Host{Runner: &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{{Match: "cat " + kubeadm.AdminConf, Stdout: conf}}}, Host: s.inv.Hosts[0]}
		return d.fetchKubeconfig(context.Background(), h)
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
		if _, err := os.Stat(d.state.KubeconfigPath()); err == nil {
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
	fi, err := os.Stat(d.state.KubeconfigPath())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state kubeconfig %v %v, want mode 0600", fi, err)
	}
	a, err := kubeconfig.Load(d.state.KubeconfigPath(), "10.9.0.100:6443")
	if err != nil || a.Cluster != "unit" || string(a.KeyData) != string(pki.Admin.KeyData) {
		t.Errorf("the state directory's kubeconfig: %+v, %v", a, err)
	}
}
