package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/manifest"
)

// TestBuildChecksCompatibility: a stack outside the compatibility matrix
// (KubeSphere 3.4.1 on Kubernetes 1.34) fails before anything is fetched;
// with the row overridden it builds, warns, and bundle.json records the
// override for deploy.
func TestBuildChecksCompatibility(t *testing.T) {
	for _, ref := range []string{"kube-apiserver:v1.34.4", "kubesphere/ks-installer:v3.4.1"} {
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		tag, err := name.NewTag(demoAddr+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	m := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(m, []byte(`apiVersion: appliance/v1
kind: Stack
metadata: {name: ks, version: 0.1.0}
spec:
  components:
    - name: kubernetes
      images: [registry.k8s.io/kube-apiserver:v1.34.4]
    - name: kubesphere
      images: [kubesphere/ks-installer:v3.4.1]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := manifest.Load(m)
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	o := Options{Stack: st, Output: filepath.Join(dir, "ks.bundle"), CacheDir: cache,
		Mirrors: manifest.Mirrors{"registry.k8s.io": demoAddr, "docker.io": demoAddr}}
	_, err = Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "check compatibility") || !strings.Contains(err.Error(), "v1.21–v1.26") {
		t.Fatalf("build of KubeSphere 3.4.1 on Kubernetes 1.34: %v", err)
	}
	cached := func() []string {
		blobs, _ := filepath.Glob(filepath.Join(cache, "sha256", "*"))
		return blobs
	}
	if blobs := cached(); len(blobs) != 0 {
		t.Errorf("the refused build fetched %v", blobs)
	}
	var warn bytes.Buffer
	o.AllowIncompatible, o.Warn = []string{compat.RowKubeSphereKubernetes}, &warn
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(cached()) == 0 {
		t.Error("the cache probe sees nothing after a build that fetched")
	}
	if !strings.Contains(warn.String(), "kubesphere-kubernetes overridden") {
		t.Errorf("no warning: %q", warn.String())
	}
	r, err := bundle.Open(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	idx := r.Index()
	if got := compat.Overridden(idx.Annotations); len(got) != 1 || got[0] != compat.RowKubeSphereKubernetes {
		t.Errorf("bundle.json records %v", idx.Annotations)
	}
}
