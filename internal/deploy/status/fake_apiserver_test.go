package status

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/release"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
)

// fakeAPIServer stands in for kube-apiserver's nodes endpoint (GET
// /api/v1/nodes) and for the list of Helm's release Secrets (GET
// /api/v1/secrets?labelSelector=owner=helm): kube-apiserver cannot run in
// unit tests. The site test (internal/deploy/sitetest, TestKubernetesOneMaster)
// runs deploy status against the real cluster. It serves TLS with its
// PKI's certificate and answers only requests bearing a client certificate
// of its PKI's CA, as kube-apiserver answers kubeadm's admin, so a client
// that ignores the kubeconfig fails. Anything else is 404.
type fakeAPIServer struct {
	*httptest.Server
	pki      *kubeconfigtest.PKI
	nodes    []corev1.Node
	releases []*release.Release
}

func startFakeAPIServer(t *testing.T, nodes []corev1.Node, releases []*release.Release) *fakeAPIServer {
	t.Helper()
	f := &fakeAPIServer{nodes: nodes, releases: releases}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	pki, err := kubeconfigtest.New("")
	if err != nil {
		t.Fatal(err)
	}
	f.pki = pki
	f.TLS = pki.ServerTLS
	f.StartTLS()
	pki.Admin.Server = f.URL
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPIServer) serve(w http.ResponseWriter, r *http.Request) {
	if !f.pki.Authenticated(r.TLS) {
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`, http.StatusUnauthorized)
		return
	}
	var body any
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/nodes":
		body = corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: f.nodes}
	case r.Method == http.MethodGet && r.URL.Path == "/api/v1/secrets" && r.URL.Query().Get("labelSelector") == "owner=helm":
		list := corev1.SecretList{TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"}}
		for _, rel := range f.releases {
			list.Items = append(list.Items, helmSecret(rel))
		}
		body = list
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// helmSecret stores rel as Helm's secret driver does: base64 of gzip'd
// JSON under "release", labelled owner=helm.
func helmSecret(rel *release.Release) corev1.Secret {
	js, _ := json.Marshal(rel)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(js)
	_ = zw.Close()
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("sh.helm.release.v1.%s.v%d", rel.Name, rel.Version),
			Namespace: rel.Namespace,
			Labels:    map[string]string{"owner": "helm", "name": rel.Name, "status": rel.Info.Status.String()},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(z.Bytes()))},
	}
}

// writeKubeconfig writes the admin kubeconfig a into the state directory
// dir, as fetchKubeconfig does, and records its server as the endpoint
// deploy configured in dir's state.PlanFile, as prepareState does.
func writeKubeconfig(t *testing.T, dir string, a *kubeconfig.Admin) string {
	t.Helper()
	p := filepath.Join(dir, state.KubeconfigFile)
	if err := os.WriteFile(p, a.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	saved, err := state.Dir(dir).ReadPlan()
	if err != nil {
		t.Fatal(err)
	}
	saved.APIServer = strings.TrimPrefix(a.Server, "https://")
	if err := state.Dir(dir).WritePlan(*saved); err != nil {
		t.Fatal(err)
	}
	return p
}

// adminFor is a kubeconfig for server with a client certificate of a
// throwaway CA, which no fakeAPIServer trusts.
func adminFor(t *testing.T, server string) *kubeconfig.Admin {
	t.Helper()
	pki, err := kubeconfigtest.New(server)
	if err != nil {
		t.Fatal(err)
	}
	return pki.Admin
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
