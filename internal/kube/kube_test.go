package kube

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// TestMaxAnswer: with Options.MaxAnswer, an answer longer than the bound
// fails the request instead of being read whole; one within it is decoded
// into client-go's types, and an error status is an apierrors.APIStatus.
func TestMaxAnswer(t *testing.T) {
	pki, err := kubeconfigtest.New("")
	if err != nil {
		t.Fatal(err)
	}
	nodes := `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"master-1"}}]}`
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/nodes":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, nodes)
		case "/api/v1/secrets":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"kind":"SecretList","apiVersion":"v1","items":[],"padding":"`+strings.Repeat("x", 4096)+`"}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","message":"no","code":403}`)
		}
	}))
	srv.TLS = pki.ServerTLS
	srv.StartTLS()
	defer srv.Close()
	pki.Admin.Server = srv.URL
	c, err := Open(writeAdmin(t, pki.Admin.Marshal()), strings.TrimPrefix(srv.URL, "https://"), Options{Timeout: 10 * time.Second, MaxAnswer: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "master-1" {
		t.Errorf("nodes within the bound: %+v, %v", list, err)
	}
	if _, err := c.Clientset.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Errorf("an answer of more than 4 KiB with a bound of 1 KiB: %v", err)
	}
	var se apierrors.APIStatus
	if _, err := c.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !errors.As(err, &se) || se.Status().Code != http.StatusForbidden {
		t.Errorf("a 403: %v, want an apierrors.APIStatus", err)
	}
}

// TestWarningsAreEscaped: a Warning header with terminal controls (a
// compromised master writing to the operator's terminal) reaches
// Options.Warnings escaped, on one line. Go's HTTP client refuses ASCII
// control bytes in a header and client-go drops a warning with C1
// controls; a bidi override (U+202E) and a zero-width joiner pass both
// and are escaped here.
func TestWarningsAreEscaped(t *testing.T) {
	pki, err := kubeconfigtest.New("")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Warning", "299 - \"deprecated \u202egnp.exe\u200d\"")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"NodeList","apiVersion":"v1","items":[]}`)
	}))
	srv.TLS = pki.ServerTLS
	srv.StartTLS()
	defer srv.Close()
	pki.Admin.Server = srv.URL
	path := writeAdmin(t, pki.Admin.Marshal())
	var out strings.Builder
	c, err := Open(path, strings.TrimPrefix(srv.URL, "https://"), Options{Timeout: 10 * time.Second, Warnings: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "deprecated") || strings.ContainsAny(got, "\u202e\u200d") || strings.Count(got, "\n") != 1 {
		t.Errorf("warning written as %q: want it escaped, on one line", got)
	}
	if c.Config.WarningHandler == nil {
		t.Error("no warning handler: client-go would print warnings raw through klog")
	}
}
