package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintChecksCompatibility: bundle lint (and build --dry-run, which
// runs the same checks) refuses KubeSphere 3.4.1 on Kubernetes 1.34,
// naming the row, the supported range and the fix; --allow-incompatible
// with the row's name accepts it with a warning; the built-in stack passes.
func TestLintChecksCompatibility(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "stack.yaml")
	stack := func(kube string) {
		os.WriteFile(m, []byte(`apiVersion: appliance/v1
kind: Stack
metadata: {name: ks, version: 0.1.0}
spec:
  components:
    - name: kubernetes
      images: [registry.k8s.io/kube-apiserver:`+kube+`, registry.k8s.io/pause:3.10.1]
    - name: kubesphere
      images: [kubesphere/ks-installer:v3.4.1]
`), 0o644)
	}
	stack("v1.34.4")
	for _, args := range [][]string{{"lint", "-f", m}, {"build", "-f", m, "--dry-run"}} {
		out, err := bundleCmd(t, nil, args...)
		if err == nil {
			t.Fatalf("bundle %s passed KubeSphere 3.4.1 on Kubernetes 1.34:\n%s", args[0], out)
		}
		for _, want := range []string{"KubeSphere v3.4.1 with Kubernetes v1.34.4", "v1.21–v1.26", "kubesphere-kubernetes", "--allow-incompatible"} {
			if !strings.Contains(out, want) {
				t.Errorf("bundle %s output lacks %q:\n%s", args[0], want, out)
			}
		}
	}
	out := mustBundle(t, nil, "lint", "-f", m, "--allow-incompatible", "kubesphere-kubernetes")
	if !strings.Contains(out, "warning: compatibility row kubesphere-kubernetes overridden") || !strings.Contains(out, ": ok") {
		t.Errorf("lint with the row overridden:\n%s", out)
	}
	if out, err := bundleCmd(t, nil, "lint", "-f", m, "--allow-incompatible", "kubesphere"); err == nil || !strings.Contains(out, "no such row") {
		t.Errorf("an unknown row name: %v\n%s", err, out)
	}
	stack("v1.25.16")
	if out, err := bundleCmd(t, nil, "lint", "-f", m); err == nil || !strings.Contains(out, "v1.26–v1.34") {
		t.Errorf("Kubernetes 1.25: %v\n%s", err, out)
	}
	stack("v1.26.15")
	mustBundle(t, nil, "lint", "-f", m)
	mustBundle(t, nil, "lint", "--stack", "kubesphere")
}
