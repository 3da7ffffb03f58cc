package deploy

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/release"
)

// fakeAPIServer stands in for kube-apiserver's nodes endpoint (GET
// /api/v1/nodes) and for the list of Helm's release Secrets (GET
// /api/v1/secrets?labelSelector=owner=helm): kube-apiserver cannot run in
// unit tests. The site test (internal/deploy/sitetest, TestKubernetesOneMaster)
// runs deploy status against the real cluster. It serves TLS and answers
// only requests bearing token, so a client that ignores the kubeconfig
// fails. Anything else is 404.
type fakeAPIServer struct {
	*httptest.Server
	token    string
	nodes    []corev1.Node
	releases []*release.Release
}

func startFakeAPIServer(t *testing.T, token string, nodes []corev1.Node, releases []*release.Release) *fakeAPIServer {
	t.Helper()
	f := &fakeAPIServer{token: token, nodes: nodes, releases: releases}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPIServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
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

// writeKubeconfig writes an admin kubeconfig for server into dir, trusting
// caPEM (nil: no CA data), authenticating with token, mode 0600.
func writeKubeconfig(t *testing.T, dir, server string, caPEM []byte, token string) string {
	t.Helper()
	ca := ""
	if caPEM != nil {
		ca = "\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(caPEM)
	}
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: site
  cluster:
    server: %s%s
users:
- name: admin
  user:
    token: %s
contexts:
- name: admin@site
  context: {cluster: site, user: admin}
current-context: admin@site
`, server, ca, token)
	p := filepath.Join(dir, KubeconfigFile)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// caPEM is the fake server's certificate, to trust it.
func (f *fakeAPIServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
}
