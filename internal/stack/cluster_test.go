package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"helm.sh/helm/v3/pkg/release"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fixture"
)

// The tests below run against a real kube-apiserver and etcd, built from
// source by scripts/k8s/build.sh, started once per test binary on loopback
// (fixture.StartAPIServer). Nothing runs pods or controllers there, so
// these tests check what the apiserver holds, and stand in for the
// controllers only by writing a workload's or pod's status through its
// status subresource, as kube-controller-manager and kubelet would.

var (
	apiOnce sync.Once
	api     *fixture.APIServer
	apiErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if api != nil {
		api.Close()
	}
	os.Exit(code)
}

// cluster returns the shared apiserver, or skips the test when
// APPLIANCE_K8S_BIN is unset.
func cluster(t *testing.T) *fixture.APIServer {
	t.Helper()
	if os.Getenv(fixture.K8sBinEnv) == "" {
		t.Skipf("%s is unset: these tests need a real etcd and kube-apiserver; run scripts/k8s/build.sh and set %s=<the directory it prints>/bin", fixture.K8sBinEnv, fixture.K8sBinEnv)
	}
	apiOnce.Do(func() {
		start := time.Now()
		api, apiErr = fixture.StartAPIServer(context.Background(), "")
		if apiErr == nil {
			fmt.Fprintf(os.Stderr, "kube-apiserver ready at %s in %s\n", api.URL(), time.Since(start).Round(time.Millisecond))
		}
	})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return api
}

// clients returns a dynamic client of the apiserver.
func clients(t *testing.T, a *fixture.APIServer) dynamic.Interface {
	t.Helper()
	dyn, err := a.Dynamic()
	if err != nil {
		t.Fatal(err)
	}
	return dyn
}

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	secrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	configmaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	jobs        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// deploymentChart is a chart with one Deployment of .Values.replicas
// replicas, labelled app=<release>.
func deploymentChart(t *testing.T, version string) []byte {
	return testChart(t, "web", version, "replicas: 1\nimage: registry.factory.example/library/app:1.0\n", map[string]string{
		"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
`,
		"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-config}\ndata: {replicas: \"{{ .Values.replicas }}\"}\n",
	})
}

// rollOut stands in for the deployment controller on one Deployment
// until ctx ends (fixture.APIServer.RollOut).
func rollOut(ctx context.Context, t *testing.T, a *fixture.APIServer, ns, name string) {
	t.Helper()
	if err := a.RollOut(ctx, ns, name); err != nil {
		t.Fatal(err)
	}
}

// helmSecrets lists the Helm storage Secrets of a release.
func helmSecrets(t *testing.T, dyn dynamic.Interface, ns, name string) []unstructured.Unstructured {
	t.Helper()
	l, err := dyn.Resource(secrets).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// revisions maps each stored revision of a release to its status, as
// Helm's storage labels them.
func revisions(t *testing.T, dyn dynamic.Interface, ns, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range helmSecrets(t, dyn, ns, name) {
		out[s.GetLabels()["version"]] = s.GetLabels()["status"]
	}
	return out
}

// whenNamespace runs fn once namespace exists (the release's install made
// it), for at most 5 seconds.
func whenNamespace(dyn dynamic.Interface, namespace string, fn func()) {
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := dyn.Resource(namespaces).Get(context.Background(), namespace, metav1.GetOptions{}); err == nil {
				fn()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func logTo(t *testing.T, lines *[]string, mu *sync.Mutex) Option {
	return WithLogf(func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		*lines = append(*lines, fmt.Sprintf(format, args...))
		t.Logf(format, args...)
	})
}

// TestReleaseInstallIdempotentUpgrade installs a release into a namespace
// that does not exist, with its values files merged; waits for its
// Deployment; runs again with the same bundle (no new revision); then with
// other values (revision 2, the Deployment changed, waited for again).
func TestReleaseInstallIdempotentUpgrade(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rollOut(ctx, t, a, "shop", "web")
	tgz := deploymentChart(t, "1.0.0")
	rel := bundle.Release{Name: "web", Namespace: "shop", Chart: "charts/web-1.0.0.tgz", Values: []string{"values/shop/shop.yaml", "values/shop/web.yaml"}}
	comps := []bundle.Component{{Name: "shop", Charts: []string{rel.Chart}, Releases: []bundle.Release{rel}}}
	b1 := testBundle(t, map[string][]byte{rel.Chart: tgz, "values/shop/shop.yaml": []byte("replicas: 2\n"), "values/shop/web.yaml": []byte("replicas: 3\n")}, comps)
	var lines []string
	var mu sync.Mutex
	in, err := Open(a.Kubeconfig(), b1, WithTimeout(30*time.Second), WithPoll(100*time.Millisecond), logTo(t, &lines, &mu))
	if err != nil {
		t.Fatal(err)
	}
	change := func(in *Installer, want string) {
		t.Helper()
		if got, err := in.Change(rel); err != nil || got != want {
			t.Errorf("Change = %q, %v; want %q", got, err, want)
		}
	}
	change(in, "install")
	start := time.Now()
	if err := in.Run(ctx, Steps(b1.Index())[0]); err != nil {
		t.Fatal(err)
	}
	t.Logf("install took %s", time.Since(start).Round(time.Millisecond))
	change(in, "unchanged")
	if _, err := dyn.Resource(namespaces).Get(ctx, "shop", metav1.GetOptions{}); err != nil {
		t.Fatalf("the release's namespace was not created: %v", err)
	}
	d, err := dyn.Resource(deployments).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 3 {
		t.Errorf("Deployment shop/web has %d replicas, want 3: the chart's values file wins over the component's", r)
	}
	if d.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" || d.GetAnnotations()["meta.helm.sh/release-name"] != "web" {
		t.Errorf("the Deployment is not Helm's: labels %v, annotations %v", d.GetLabels(), d.GetAnnotations())
	}
	s := helmSecrets(t, dyn, "shop", "web")
	if len(s) != 1 || s[0].GetLabels()["status"] != "deployed" || s[0].GetLabels()["version"] != "1" || s[0].GetLabels()[FingerprintLabel] == "" {
		t.Fatalf("Helm storage after the install: %d secrets, labels %v; want one deployed revision 1 with a fingerprint", len(s), labelsOf(s))
	}

	// The same chart and values again: nothing changes.
	rv := d.GetResourceVersion()
	if err := in.Run(ctx, Steps(b1.Index())[0]); err != nil {
		t.Fatal(err)
	}
	if s := helmSecrets(t, dyn, "shop", "web"); len(s) != 1 {
		t.Errorf("a second run with the same chart and values made revision(s): %v", labelsOf(s))
	}
	d, _ = dyn.Resource(deployments).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
	if d.GetResourceVersion() != rv {
		t.Errorf("a second run changed the Deployment (resourceVersion %s, was %s)", d.GetResourceVersion(), rv)
	}
	if !contains(lines, "nothing to change") {
		t.Errorf("the second run did not say it left the release alone:\n%s", strings.Join(lines, "\n"))
	}

	// Other values: an upgrade to revision 2.
	b2 := testBundle(t, map[string][]byte{rel.Chart: tgz, "values/shop/shop.yaml": []byte("replicas: 2\n"), "values/shop/web.yaml": []byte("replicas: 5\n")}, comps)
	in2, err := Open(a.Kubeconfig(), b2, WithTimeout(30*time.Second), WithPoll(100*time.Millisecond), logTo(t, &lines, &mu))
	if err != nil {
		t.Fatal(err)
	}
	change(in2, "upgrade")
	if err := in2.Run(ctx, Steps(b2.Index())[0]); err != nil {
		t.Fatal(err)
	}
	d, _ = dyn.Resource(deployments).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 5 {
		t.Errorf("after the upgrade the Deployment has %d replicas, want 5", r)
	}
	if og, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration"); og != d.GetGeneration() {
		t.Errorf("the upgrade returned before the Deployment rolled out (observed %d of generation %d)", og, d.GetGeneration())
	}
	if got := revisions(t, dyn, "shop", "web"); len(got) != 2 || got["1"] != "superseded" || got["2"] != "deployed" {
		t.Errorf("Helm storage after the upgrade: revisions %v; want 1 superseded, 2 deployed", got)
	}
}

// TestReleaseFailureNamesThePod: a release whose Deployment never rolls
// out fails after the timeout with an *Error naming the release, the
// Deployment and its pod in ImagePullBackOff with the kubelet's message.
func TestReleaseFailureNamesThePod(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	ctx := context.Background()
	rel := bundle.Release{Name: "broken", Namespace: "failing", Chart: "charts/web-1.0.0.tgz"}
	b := testBundle(t, map[string][]byte{rel.Chart: deploymentChart(t, "1.0.0")},
		[]bundle.Component{{Name: "failing", Charts: []string{rel.Chart}, Releases: []bundle.Release{rel}}})
	// The pod kubelet would have made, stuck pulling its image, and the
	// event it would have recorded.
	whenNamespace(dyn, "failing", func() {
		createPod(t, dyn, "failing", "broken-6d4cf56db6-x7k2p", map[string]string{"app": "broken"}, map[string]any{
			"phase": "Pending",
			"containerStatuses": []any{map[string]any{"name": "web", "ready": false, "restartCount": int64(0), "image": "registry.factory.example/library/app:1.0", "imageID": "",
				"state": map[string]any{"waiting": map[string]any{"reason": "ImagePullBackOff", "message": `Back-off pulling image "registry.factory.example/library/app:1.0"`}}}},
		})
		createEvent(t, dyn, "failing", "broken-6d4cf56db6-x7k2p", "Failed", `Failed to pull image "registry.factory.example/library/app:1.0": not found`)
	})
	in, err := Open(a.Kubeconfig(), b, WithTimeout(3*time.Second), WithPoll(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(ctx, Steps(b.Index())[0])
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *stack.Error", err)
	}
	for _, want := range []string{
		"release broken (namespace failing): not ready after 3s",
		"Deployment failing/broken: its controller has not seen generation 1 yet",
		`pod failing/broken-6d4cf56db6-x7k2p ImagePullBackOff: container web Back-off pulling image "registry.factory.example/library/app:1.0"`,
		`(last event Failed: Failed to pull image "registry.factory.example/library/app:1.0": not found)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\nlacks\n%s", err, want)
		}
	}
	if len(se.Pods) != 1 || se.Pods[0].Reason != "ImagePullBackOff" {
		t.Errorf("pods %+v, want the one in ImagePullBackOff", se.Pods)
	}
}

// TestNoPodsNamesTheControllersEvent: a Deployment with no pods at all is
// reported with the last warning event of its ReplicaSet, which says why.
func TestNoPodsNamesTheControllersEvent(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	rel := bundle.Release{Name: "quota", Namespace: "limited", Chart: "charts/web-1.0.0.tgz"}
	b := testBundle(t, map[string][]byte{rel.Chart: deploymentChart(t, "1.0.0")},
		[]bundle.Component{{Name: "limited", Charts: []string{rel.Chart}, Releases: []bundle.Release{rel}}})
	whenNamespace(dyn, "limited", func() {
		createEventOn(t, dyn, "limited", "ReplicaSet", "quota-7c9d8b5f4", "FailedCreate", `pods "quota-7c9d8b5f4-abcde" is forbidden: exceeded quota: compute`)
	})
	in, err := Open(a.Kubeconfig(), b, WithTimeout(2*time.Second), WithPoll(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(context.Background(), Steps(b.Index())[0])
	want := `no pods: Deployment limited/quota has none; its controller in kube-controller-manager makes them (last event ReplicaSet quota-7c9d8b5f4 FailedCreate: pods "quota-7c9d8b5f4-abcde" is forbidden: exceeded quota: compute)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error\n%v\nwant it to contain\n%s", err, want)
	}
}

// TestFailedJobFailsFast: a Job whose status says Failed fails the step at
// once, not at the timeout, naming the Job and its reason.
func TestFailedJobFailsFast(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	ctx := context.Background()
	tgz := testChart(t, "migrate", "0.1.0", "", map[string]string{"job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: registry.factory.example/library/db:1.0}]
`})
	rel := bundle.Release{Name: "migrate", Namespace: "db", Chart: "charts/migrate-0.1.0.tgz"}
	b := testBundle(t, map[string][]byte{rel.Chart: tgz}, []bundle.Component{{Name: "db", Charts: []string{rel.Chart}, Releases: []bundle.Release{rel}}})
	go failJob(t, dyn, "db", "migrate", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
	in, err := Open(a.Kubeconfig(), b, WithTimeout(time.Minute), WithPoll(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = in.Run(ctx, Steps(b.Index())[0])
	if err == nil || !strings.Contains(err.Error(), "release migrate (namespace db): failed: Job db/migrate: failed: BackoffLimitExceeded: Job has reached the specified backoff limit") {
		t.Fatalf("error %v, want the Job's failure", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("a failed Job took %s to report, want it at once, not at the 1m timeout", d)
	}
}

// TestInterruptedReleaseIsRecovered: a release an interrupted run left
// pending-install (Helm refuses to touch it: "another operation is in
// progress") is marked failed and upgraded to a deployed revision.
func TestInterruptedReleaseIsRecovered(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rollOut(ctx, t, a, "resume", "again")
	rel := bundle.Release{Name: "again", Namespace: "resume", Chart: "charts/web-1.0.0.tgz"}
	b := testBundle(t, map[string][]byte{rel.Chart: deploymentChart(t, "1.0.0")}, []bundle.Component{{Name: "resume", Charts: []string{rel.Chart}, Releases: []bundle.Release{rel}}})
	in, err := Open(a.Kubeconfig(), b, WithTimeout(30*time.Second), WithPoll(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx, Steps(b.Index())[0]); err != nil {
		t.Fatal(err)
	}
	cfg, err := in.helmConfig("resume")
	if err != nil {
		t.Fatal(err)
	}
	last, err := latest(cfg, "again")
	if err != nil {
		t.Fatal(err)
	}
	last.SetStatus(release.StatusPendingInstall, "cut off")
	if err := cfg.Releases.Update(last); err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx, Steps(b.Index())[0]); err != nil {
		t.Fatalf("a run after an interrupted install: %v", err)
	}
	got := revisions(t, dyn, "resume", "again")
	if got["1"] != "failed" && got["1"] != "superseded" || got["2"] != "deployed" {
		t.Errorf("revisions %v; want revision 1 no longer pending and revision 2 deployed", got)
	}
}

// TestApplyManifests applies a component's manifests server-side: a CRD
// listed after its custom resource and a ConfigMap listed before its
// Namespace are applied in a working order; everything is owned by
// FieldManager; a second run changes nothing; the Deployment is waited for.
func TestApplyManifests(t *testing.T) {
	a := cluster(t)
	dyn := clients(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rollOut(ctx, t, a, "factory", "line-agent")
	files := map[string][]byte{
		"manifests/factory/app.yaml": []byte(`apiVersion: factory.example/v1
kind: Line
metadata: {name: line-1, namespace: factory}
spec: {speed: 3}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: factory}
data: {mode: auto}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: line-agent, namespace: factory}
spec:
  replicas: 1
  selector: {matchLabels: {app: line-agent}}
  template:
    metadata: {labels: {app: line-agent}}
    spec: {containers: [{name: agent, image: registry.factory.example/library/app:1.0}]}
`),
		"manifests/factory/crd.yaml": []byte(`apiVersion: v1
kind: Namespace
metadata: {name: factory, labels: {site: plant-1}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: lines.factory.example}
spec:
  group: factory.example
  scope: Namespaced
  names: {plural: lines, singular: line, kind: Line, listKind: LineList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {speed: {type: integer}}}
`),
	}
	paths := []string{"manifests/factory/app.yaml", "manifests/factory/crd.yaml"}
	b := testBundle(t, files, []bundle.Component{{Name: "factory", Manifests: paths}})
	var lines []string
	var mu sync.Mutex
	in, err := Open(a.Kubeconfig(), b, WithTimeout(30*time.Second), WithPoll(100*time.Millisecond), logTo(t, &lines, &mu))
	if err != nil {
		t.Fatal(err)
	}
	steps := Steps(b.Index())
	if len(steps) != 1 || steps[0].Name() != "factory-manifests" {
		t.Fatalf("steps %+v", steps)
	}
	if err := in.Run(ctx, steps[0]); err != nil {
		t.Fatal(err)
	}
	lineRes := schema.GroupVersionResource{Group: "factory.example", Version: "v1", Resource: "lines"}
	objs := map[string]func() (*unstructured.Unstructured, error){
		"Line factory/line-1": func() (*unstructured.Unstructured, error) {
			return dyn.Resource(lineRes).Namespace("factory").Get(ctx, "line-1", metav1.GetOptions{})
		},
		"ConfigMap factory/settings": func() (*unstructured.Unstructured, error) {
			return dyn.Resource(configmaps).Namespace("factory").Get(ctx, "settings", metav1.GetOptions{})
		},
		"Deployment factory/line-agent": func() (*unstructured.Unstructured, error) {
			return dyn.Resource(deployments).Namespace("factory").Get(ctx, "line-agent", metav1.GetOptions{})
		},
		"Namespace factory": func() (*unstructured.Unstructured, error) {
			return dyn.Resource(namespaces).Get(ctx, "factory", metav1.GetOptions{})
		},
	}
	rvs := map[string]string{}
	for name, get := range objs {
		o, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !appliedBy(o, FieldManager) {
			t.Errorf("%s is not owned by field manager %s with operation Apply: %v", name, FieldManager, o.GetManagedFields())
		}
		rvs[name] = o.GetResourceVersion()
	}
	if o, _ := objs["Line factory/line-1"](); o != nil {
		if v, _, _ := unstructured.NestedInt64(o.Object, "spec", "speed"); v != 3 {
			t.Errorf("Line spec.speed = %d, want 3", v)
		}
	}
	if err := in.Run(ctx, steps[0]); err != nil {
		t.Fatalf("second run: %v", err)
	}
	for name, get := range objs {
		if o, err := get(); err != nil || o.GetResourceVersion() != rvs[name] {
			t.Errorf("a second apply changed %s (resourceVersion %s, was %s; %v)", name, o.GetResourceVersion(), rvs[name], err)
		}
	}
	if !contains(lines, "CustomResourceDefinition(s) established: [lines.factory.example]") {
		t.Errorf("the CRD was not waited for:\n%s", strings.Join(lines, "\n"))
	}
}

// TestApplyUnknownKindNamesTheManifest: a custom resource whose CRD is in
// no manifest fails, naming the file, the document and the fix.
func TestApplyUnknownKindNamesTheManifest(t *testing.T) {
	a := cluster(t)
	files := map[string][]byte{"manifests/x/cr.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: nowhere.example/v1\nkind: Gadget\nmetadata: {name: g, namespace: default}\n")}
	b := testBundle(t, files, []bundle.Component{{Name: "x", Manifests: []string{"manifests/x/cr.yaml"}}})
	in, err := Open(a.Kubeconfig(), b, WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(context.Background(), Steps(b.Index())[0])
	want := "manifests of component x: manifests/x/cr.yaml document 2 (Gadget default/g): the cluster does not serve nowhere.example/v1, Kind=Gadget; its CustomResourceDefinition must come"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v\nwant it to contain\n%s", err, want)
	}
}

func appliedBy(o *unstructured.Unstructured, manager string) bool {
	for _, f := range o.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

func labelsOf(s []unstructured.Unstructured) []map[string]string {
	var out []map[string]string
	for _, x := range s {
		out = append(out, x.GetLabels())
	}
	return out
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
