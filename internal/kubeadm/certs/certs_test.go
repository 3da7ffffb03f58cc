package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/el7"
)

// newCert makes a self-signed certificate for name valid until notAfter,
// and its key.
func newCert(t *testing.T, name string, notAfter time.Time, ca bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: ca, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestParseList(t *testing.T) {
	now := time.Now()
	api, _ := newCert(t, "kube-apiserver", now.Add(364*24*time.Hour), false)
	ca, _ := newCert(t, "kubernetes", now.Add(10*365*24*time.Hour), true)
	admin, _ := newCert(t, "kubernetes-admin", now.Add(20*24*time.Hour), false)
	out := "@@ /etc/kubernetes/pki/apiserver.crt\n" + pemOf(api) +
		"@@ /etc/kubernetes/pki/ca.crt\n" + pemOf(ca) +
		"@@ /etc/kubernetes/admin.conf\n" + base64.StdEncoding.EncodeToString([]byte(pemOf(admin))) + "\n"
	got, err := ParseList("master-1", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d certificates, want 3: %+v", len(got), got)
	}
	Sort(got)
	if got[0].Path != "/etc/kubernetes/admin.conf" || got[0].Subject != "kubernetes-admin" || got[0].Host != "master-1" {
		t.Errorf("soonest = %+v, want admin.conf's", got[0])
	}
	if d := got[0].DaysLeft(now); d != 19 && d != 20 {
		t.Errorf("admin.conf: %d days left, want 20", d)
	}
	if !got[2].CA || got[2].Path != "/etc/kubernetes/pki/ca.crt" {
		t.Errorf("latest = %+v, want the CA", got[2])
	}
	if soon := Soon(got, now); len(soon) != 1 || soon[0].Path != "/etc/kubernetes/admin.conf" {
		t.Errorf("Soon = %+v, want admin.conf alone", soon)
	}
	if empty, err := ParseList("w", nil); err != nil || len(empty) != 0 {
		t.Errorf("an empty listing: %v %v", empty, err)
	}

	for name, bad := range map[string]string{
		"no certificate":   "@@ /etc/kubernetes/pki/x.crt\nnot a certificate\n",
		"key only":         "@@ /etc/kubernetes/pki/x.crt\n-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
		"no file name":     pemOf(api),
		"escape in a path": "@@ /etc/\x1b]0;pwned\x07x.crt\n" + pemOf(api),
		"relative path":    "@@ x.crt\n" + pemOf(api),
		"huge section":     "@@ /x.crt\n" + strings.Repeat("A", maxSection+1),
	} {
		_, err := ParseList("master-1", []byte(bad))
		if err == nil {
			t.Errorf("%s: parsed", name)
			continue
		}
		if !strings.Contains(err.Error(), "master-1") || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("%s: the error does not name the host, or carries an escape: %q", name, err)
		}
	}
}

// TestCommandsRunOnEL7: the listing, the renewal script and the units use
// only what CentOS 7.9 and the bundle's packages have.
func TestCommandsRunOnEL7(t *testing.T) {
	for _, cmd := range []string{ListCommand(true, "/etc/appliance/harbor/tls.crt"), ListCommand(false), Script(), ScriptPath + " --now"} {
		for _, p := range el7.Check(cmd) {
			t.Errorf("%v", p)
		}
	}
	for name, u := range map[string]string{"service": ServiceUnit(), "timer": TimerUnit(1)} {
		for _, p := range el7.CheckUnit(Unit+"."+name, u) {
			t.Errorf("%v", p)
		}
	}
	if TimerUnit(0) == TimerUnit(1) {
		t.Error("two masters' timers run at the same time")
	}
}

// checkExpiration is kubeadm 1.26's `certs check-expiration` output
// (cmd/kubeadm/app/cmd/certs.go: a tabwriter table of certificates, then of
// CAs), with the nearest residual time left as %s.
const checkExpiration = `[check-expiration] Reading configuration from the cluster...
[check-expiration] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'

CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Dec 07, 2027 13:00 UTC   364d            ca                      no
apiserver                  Dec 07, 2027 13:00 UTC   %s             ca                      no
etcd-server                Dec 07, 2027 13:00 UTC   1y              etcd-ca                 no

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Dec 05, 2036 13:00 UTC   9y              no
etcd-ca                 Dec 05, 2036 13:00 UTC   9y              no
`

// TestScriptDecides runs the renewal script with bash against a kubeadm
// that prints a check-expiration table and records being asked to renew:
// the script renews below RENEW_DAYS, not above, and fails when kubeadm
// lists nothing.
func TestScriptDecides(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if out, err := exec.Command(bash, "-n", "-c", Script()).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if _, err := os.Stat(AsideDir); err == nil {
		t.Skipf("%s exists on this machine", AsideDir)
	}
	for _, c := range []struct {
		residual string
		renew    bool
		fail     bool
	}{
		{"364d", false, false}, {"31d", false, false}, {"29d", true, false}, {"23h", true, false},
		{"<invalid>", true, false}, {"", false, true},
	} {
		dir := t.TempDir()
		table := ""
		if c.residual != "" {
			table = strings.Replace(checkExpiration, "%s", c.residual, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, "table"), []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		// kubeadm certs renew all fails on purpose, so the script stops
		// there, having shown its decision.
		stub := "#!/bin/bash\nif [ \"$2\" = check-expiration ]; then cat " + dir + "/table; exit 0; fi\necho \"RENEW $*\"; exit 3\n"
		if err := os.WriteFile(filepath.Join(dir, "kubeadm"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bash, "-c", Script())
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "RENEW_DAYS=30")
		out, err := cmd.CombinedOutput()
		renewed := strings.Contains(string(out), "RENEW certs renew all")
		switch {
		case c.fail && (err == nil || !strings.Contains(string(out), "listed no certificate")):
			t.Errorf("%q: %v\n%s", c.residual, err, out)
		case !c.fail && renewed != c.renew:
			t.Errorf("%q: renewed %v, want %v\n%s", c.residual, renewed, c.renew, out)
		case !c.fail && !c.renew && err != nil:
			t.Errorf("%q: %v\n%s", c.residual, err, out)
		}
	}
}

// TestServedLeaf reads the certificate a TLS server serves, also when the
// server demands a client certificate (as etcd does), and WaitServed tells
// the certificate apart from another.
func TestServedLeaf(t *testing.T) {
	der, key := newCert(t, "etcd", time.Now().Add(time.Hour), false)
	other, _ := newCert(t, "other", time.Now().Add(time.Hour), false)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	ctx := context.Background()
	got, err := ServedLeaf(ctx, ln.Addr().String())
	if err != nil || string(got) != string(der) {
		t.Fatalf("ServedLeaf: %v (same: %v)", err, string(got) == string(der))
	}
	if err := WaitServed(ctx, ln.Addr().String(), der, time.Second); err != nil {
		t.Error(err)
	}
	if err := WaitServed(ctx, ln.Addr().String(), other, time.Second); err == nil || !strings.Contains(err.Error(), "another certificate") {
		t.Errorf("another certificate: %v", err)
	}
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l2.Addr().String()
	l2.Close()
	if _, err := ServedLeaf(ctx, addr); err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("nothing listening: %v", err)
	}
}
