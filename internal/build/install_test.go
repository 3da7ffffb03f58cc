package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/inspect"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/stack"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/template"
)

// installStack writes a stack directory with the fixture chart factory-app,
// values files and manifests, and a stack.yaml whose components are body
// (indented as list items under components:). Images come from the demo
// registry.
func installStack(t *testing.T, body string) *manifest.Stack {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, "../charts/testdata/factory-app", filepath.Join(dir, "charts/factory-app"))
	writeFileT(t, filepath.Join(dir, "values/core.yaml"), "image: registry.factory.example/library/app:1.0\ninitImage: registry.factory.example/library/db:1.0\nreplicas: 2\n")
	writeFileT(t, filepath.Join(dir, "values/app.yaml"), "replicas: 3\n")
	writeFileT(t, filepath.Join(dir, "other/app.yaml"), "replicas: 4\n")
	writeFileT(t, filepath.Join(dir, "values/site.yaml"), "replicas: {{ len .Storage.Ceph.Monitors }}\n")
	writeFileT(t, filepath.Join(dir, "values/quoted.yaml"), "note: \"{{ .Stack.Name }}\"\n") // YAML as written and once rendered
	writeFileT(t, filepath.Join(dir, "manifests/crd.yaml"), `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.factory.example}
spec:
  group: factory.example
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`)
	writeFileT(t, filepath.Join(dir, "manifests/widget.yaml"), "apiVersion: factory.example/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\n")
	data := fmt.Sprintf("apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: install, version: 0.1.0}\nspec:\n"+
		"  registryMirrors: {registry.factory.example: %q}\n  components:\n%s", demoAddr, body)
	writeFileT(t, filepath.Join(dir, "stack.yaml"), data)
	st, err := manifest.Parse(filepath.Join(dir, "stack.yaml"), []byte(data), dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

const installComponents = `    - name: core
      images: [registry.factory.example/library/app:1.0, registry.factory.example/library/db:1.0]
      charts:
        - {path: charts/factory-app, release: app, namespace: apps, values: [values/app.yaml, {path: values/site.yaml, template: true}]}
        - {path: charts/factory-app, release: app-two}
      values: [values/core.yaml]
    - name: crds
      manifests: [manifests/crd.yaml, manifests/widget.yaml]
      podNetwork: true
`

// TestBuildRecordsTheInstallPlan: the bundle carries each component's
// values files and manifests as config entries, byte for byte, and
// bundle.json lists the releases (name, namespace, chart, values in merge
// order) and manifests in the stack's order.
func TestBuildRecordsTheInstallPlan(t *testing.T) {
	st := installStack(t, installComponents)
	out := filepath.Join(t.TempDir(), "b.bundle")
	if _, err := Build(context.Background(), Options{Stack: st, Output: out, CacheDir: filepath.Join(t.TempDir(), "cache"), Workers: 2}); err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	comps := r.Index().Components
	if len(comps) != 2 || comps[0].Name != "core" || comps[1].Name != "crds" {
		t.Fatalf("components %+v, want core then crds", comps)
	}
	const chart = "charts/factory-app-0.1.0.tgz"
	want := []bundle.Release{
		{Name: "app", Namespace: "apps", Chart: chart, Values: []string{"values/core/core.yaml", "values/core/app.yaml", "values/core/site.yaml"}},
		{Name: "app-two", Namespace: "core", Chart: chart, Values: []string{"values/core/core.yaml"}},
	}
	if got := fmt.Sprint(comps[0].Releases); got != fmt.Sprint(want) {
		t.Errorf("core's releases\n%s\nwant\n%s", got, fmt.Sprint(want))
	}
	if got := strings.Join(comps[1].Manifests, " "); got != "manifests/crds/crd.yaml manifests/crds/widget.yaml" {
		t.Errorf("crds' manifests: %s", got)
	}
	if comps[0].PodNetwork || !comps[1].PodNetwork {
		t.Errorf("podNetwork on crds became core %v, crds %v in bundle.json", comps[0].PodNetwork, comps[1].PodNetwork)
	}
	if len(comps[0].Manifests) != 0 || len(comps[1].Releases) != 0 {
		t.Errorf("a component lists what it does not have: %+v", comps)
	}
	for entry, src := range map[string]string{
		"values/core/core.yaml":      "values/core.yaml",
		"values/core/app.yaml":       "values/app.yaml",
		"values/core/site.yaml":      "values/site.yaml",
		"manifests/crds/crd.yaml":    "manifests/crd.yaml",
		"manifests/crds/widget.yaml": "manifests/widget.yaml",
	} {
		a, ok := r.Lookup(entry)
		if !ok {
			t.Errorf("the bundle has no %s", entry)
			continue
		}
		if a.Kind != bundle.KindConfig || a.Annotations[bundle.AnnotationStackPath] != src {
			t.Errorf("%s: kind %s, annotations %v; want a config entry from %s", entry, a.Kind, a.Annotations, src)
		}
		// Only the file marked template: true is stored for deploy to render.
		if tmpl := a.Annotations[bundle.AnnotationTemplate] == "true"; tmpl != (src == "values/site.yaml") {
			t.Errorf("%s: marked as a template: %v", entry, tmpl)
		}
		rc, err := r.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if wantData, _ := os.ReadFile(filepath.Join(filepath.Dir(st.File), src)); string(got) != string(wantData) {
			t.Errorf("%s holds %q, want the content of %s, %q", entry, got, src, wantData)
		}
	}
	var text strings.Builder
	s, err := inspect.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	s.WriteText(&text)
	if !strings.Contains(text.String(), "release app-two") || !strings.Contains(text.String(), "manifests/crds/widget.yaml") {
		t.Errorf("bundle inspect does not show the install plan:\n%s", text.String())
	}
	t.Run("deploy installs it", func(t *testing.T) { installBuilt(t, r) })
}

// installBuilt installs the plan of the bundle TestBuildRecordsTheInstallPlan
// built into a real kube-apiserver, as deploy's /stack does, and checks
// what the apiserver holds: the values merged in order, the custom
// resource after its definition.
func installBuilt(t *testing.T, r *bundle.Reader) {
	if os.Getenv(fixture.K8sBinEnv) == "" {
		t.Skipf("%s is unset: this test needs a real etcd and kube-apiserver; run scripts/k8s/build.sh and set %s=<the directory it prints>/bin", fixture.K8sBinEnv, fixture.K8sBinEnv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := fixture.StartAPIServer(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, ns := range []string{"apps", "core"} {
		if err := a.RollOut(ctx, ns, "app"); err != nil {
			t.Fatal(err)
		}
	}
	// The site has four Ceph monitors: values/site.yaml, a template, makes
	// that four replicas of app (the build's placeholder data has three).
	site := template.Data{Storage: template.Storage{Ceph: template.Ceph{Monitors: []string{"a:1", "b:1", "c:1", "d:1"}}}}
	in, err := stack.Open(a.Kubeconfig(), r, stack.WithTimeout(30*time.Second), stack.WithLogf(t.Logf), stack.WithTemplateData(site))
	if err != nil {
		t.Fatal(err)
	}
	// As deploy runs them: the pod network's steps (crds), then /stack's.
	for _, s := range append(stack.NetworkSteps(r.Index()), stack.Steps(r.Index())...) {
		if err := in.Run(ctx, s); err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
	}
	dyn, err := a.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	for ns, want := range map[string]int64{"apps": 4, "core": 2} {
		d, err := dyn.Resource(deployments).Namespace(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); got != want {
			t.Errorf("Deployment %s/app has %d replicas, want %d from the values files (apps: the template rendered with the site's data)", ns, got, want)
		}
	}
	widgets := schema.GroupVersionResource{Group: "factory.example", Version: "v1", Resource: "widgets"}
	if _, err := dyn.Resource(widgets).Namespace("default").Get(ctx, "w", metav1.GetOptions{}); err != nil {
		t.Errorf("the Widget of manifests/widget.yaml: %v", err)
	}
}

// TestBuildRefusesAmbiguousInstalls: two releases with one name (they
// would share deploy's phase /stack/<name>), a release name Helm refuses,
// and two values files of one component with one file name are refused by
// the build, before any image is pulled, naming both places; lint (Check)
// refuses the release names too, offline.
func TestBuildRefusesAmbiguousInstalls(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       []string
		lint       bool // Check refuses it too
	}{
		{name: "one release name twice", lint: true, body: `    - name: core
      charts: [{path: charts/factory-app, release: app}]
    - name: more
      charts: [{path: charts/factory-app, release: app, namespace: more}]
`, want: []string{`stack.yaml:10: release name "app" (release) is already taken by the chart at`, "stack.yaml:8;", "/stack/app", "set release:"}},
		{name: "the default release name twice", lint: true, body: `    - name: core
      charts: [{path: charts/factory-app}]
    - name: more
      charts: [{path: charts/factory-app}]
`, want: []string{`release name "factory-app" (the chart's name, the default release) is already taken`}},
		{name: "a release named like a manifests step", lint: true, body: `    - name: core
      charts: [{path: charts/factory-app, release: crds-manifests}]
    - name: crds
      manifests: [manifests/crd.yaml]
`, want: []string{`release name "crds-manifests" (release) is already taken by the manifests of component crds`}},
		{name: "values files with one name", body: `    - name: core
      charts: [{path: charts/factory-app, values: [other/app.yaml]}]
      values: [values/app.yaml]
`, want: []string{"values file other/app.yaml has the same file name as values/app.yaml", "values/core/app.yaml", "rename one of them"}},
		{name: "one values file both template and not", body: `    - name: core
      charts: [{path: charts/factory-app, values: [{path: values/quoted.yaml, template: true}]}]
      values: [values/quoted.yaml]
`, want: []string{"values file values/quoted.yaml is a template here and not at", "template: true in both places or in neither"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := installStack(t, c.body)
			_, err := Build(context.Background(), Options{Stack: st, Output: filepath.Join(t.TempDir(), "b.bundle"), CacheDir: filepath.Join(t.TempDir(), "cache")})
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("build error\n%v\nlacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "plan the install: ") {
				t.Errorf("build error %q: want it from the step that plans the install, before images are pulled", err)
			}
			if lerr := Check(st); (lerr != nil) != c.lint {
				t.Errorf("Check (lint) = %v, want an error: %v", lerr, c.lint)
			} else if c.lint && !strings.Contains(lerr.Error(), c.want[0]) {
				t.Errorf("Check (lint) = %v, want it to name %q", lerr, c.want[0])
			}
		})
	}
}
