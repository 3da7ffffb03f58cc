package stack

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
	"github.com/factory-appliance/appliance/manifest/template"
)

// testBundle writes a real bundle file (unsigned) holding files, kinds
// chosen by their directory, and an index listing comps, and opens it.
func testBundle(t *testing.T, files map[string][]byte, comps []bundle.Component) *bundle.Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bundle.NewWriter(f)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "test", Version: "1", Components: comps}
	for _, p := range paths {
		e, err := w.Add(p, int64(len(files[p])), bytes.NewReader(files[p]))
		if err != nil {
			t.Fatal(err)
		}
		kind := bundle.KindConfig
		if strings.HasPrefix(p, "charts/") {
			kind = bundle.KindChart
		}
		a := e.Artifact(kind, filepath.Base(p))
		if strings.HasSuffix(p, ".tmpl.yaml") { // as the build marks template: true
			a.Annotations = map[string]string{bundle.AnnotationTemplate: "true"}
		}
		x.Artifacts = append(x.Artifacts, a)
	}
	idx, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(idx, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// testChart packages a chart named name with values.yaml and the given
// templates (file name → content), as `helm package` would.
func testChart(t *testing.T, name, version, values string, templates map[string]string) []byte {
	t.Helper()
	fsys := fstest.MapFS{
		name + "/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: " + name + "\nversion: " + version + "\n")},
		name + "/values.yaml": {Data: []byte(values)},
	}
	for n, c := range templates {
		fsys[name+"/templates/"+n] = &fstest.MapFile{Data: []byte(c)}
	}
	var buf bytes.Buffer
	if _, err := charts.Package(fsys, name, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStepsInStackOrder(t *testing.T) {
	x := &bundle.Index{Components: []bundle.Component{
		{Name: "storage", Releases: []bundle.Release{{Name: "nfs", Namespace: "storage"}, {Name: "rbd", Namespace: "ceph"}}},
		{Name: "harbor", Images: []string{"goharbor/core:v2"}},
		{Name: "calico", Manifests: []string{"manifests/calico/calico.yaml"}},
		{Name: "kubesphere", Releases: []bundle.Release{{Name: "ks", Namespace: "kubesphere-system"}}, Manifests: []string{"manifests/kubesphere/a.yaml", "manifests/kubesphere/b.yaml"}},
	}}
	var got []string
	for _, s := range Steps(x) {
		got = append(got, s.Name()+" = "+s.What())
	}
	want := []string{
		"nfs = release nfs (namespace storage)",
		"rbd = release rbd (namespace ceph)",
		"calico-manifests = manifests of component calico",
		"ks = release ks (namespace kubesphere-system)",
		"kubesphere-manifests = manifests of component kubesphere",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := Steps(x)[4]; strings.Join(s.Manifests, " ") != "manifests/kubesphere/a.yaml manifests/kubesphere/b.yaml" {
		t.Errorf("kubesphere's manifests %v, want both in order", s.Manifests)
	}
	if len(Steps(&bundle.Index{Components: []bundle.Component{{Name: "x", Images: []string{"a:1"}}}})) != 0 {
		t.Error("a bundle without releases or manifests has steps")
	}
	if n := NetworkSteps(x); len(n) != 0 {
		t.Errorf("no component is the pod network, yet NetworkSteps = %v", n)
	}
	// Marked as the pod network, calico moves out of /stack.
	x.Components[2].PodNetwork = true
	got = nil
	for _, s := range Steps(x) {
		got = append(got, s.Name())
	}
	if strings.Join(got, " ") != "nfs rbd ks kubesphere-manifests" {
		t.Errorf("steps with calico as the pod network: %v, want nfs rbd ks kubesphere-manifests", got)
	}
	if n := NetworkSteps(x); len(n) != 1 || n[0].Name() != "calico-manifests" || n[0].Manifests[0] != "manifests/calico/calico.yaml" {
		t.Errorf("NetworkSteps = %+v, want calico's manifests", n)
	}
}

// TestValuesMergeInOrder: the chart's values files override the
// component's, maps merge key by key, and the fingerprint follows the
// merged values and the chart, not the files' order of keys.
func TestValuesMergeInOrder(t *testing.T) {
	tgz := testChart(t, "app", "1.0.0", "replicas: 1\n", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	files := map[string][]byte{
		"charts/app-1.0.0.tgz":      tgz,
		"values/core/core.yaml":     []byte("replicas: 2\nimage: {repo: a, tag: \"1\"}\nlist: [1, 2]\n"),
		"values/core/app.yaml":      []byte("image: {tag: \"2\"}\nlist: [3]\n"),
		"values/core/reordered.yml": []byte("list: [3]\nimage: {tag: \"2\"}\n"),
	}
	r := testBundle(t, files, nil)
	in, err := Open(writeKubeconfig(t, "https://127.0.0.1:1"), r)
	if err != nil {
		t.Fatal(err)
	}
	_, vals, fp, err := in.loadRelease(bundle.Release{Name: "app", Namespace: "core", Chart: "charts/app-1.0.0.tgz",
		Values: []string{"values/core/core.yaml", "values/core/app.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := yaml.Marshal(vals)
	want := "image:\n  repo: a\n  tag: \"2\"\nlist:\n- 3\nreplicas: 2\n"
	if string(got) != want {
		t.Errorf("merged values:\n%s\nwant:\n%s", got, want)
	}
	_, _, fp2, err := in.loadRelease(bundle.Release{Name: "app", Namespace: "core", Chart: "charts/app-1.0.0.tgz",
		Values: []string{"values/core/core.yaml", "values/core/reordered.yml"}})
	if err != nil {
		t.Fatal(err)
	}
	if fp != fp2 || len(fp) != 32 {
		t.Errorf("fingerprints %q and %q of the same chart and merged values differ (or are not 32 hex digits)", fp, fp2)
	}
	_, _, fp3, _ := in.loadRelease(bundle.Release{Name: "app", Namespace: "core", Chart: "charts/app-1.0.0.tgz", Values: []string{"values/core/core.yaml"}})
	if fp3 == fp {
		t.Error("the fingerprint did not change with the values")
	}
	_, _, _, err = in.loadRelease(bundle.Release{Name: "app", Namespace: "core", Chart: "charts/gone-1.0.0.tgz"})
	if err == nil || !strings.Contains(err.Error(), "chart charts/gone-1.0.0.tgz is not in the bundle") {
		t.Errorf("a chart missing from the bundle: %v", err)
	}
}

// TestTemplatesRenderWithTheSiteData: values files and manifests the bundle
// marks as templates are rendered with the site's data before Helm or
// server-side apply see them, so the fingerprint follows the site; an
// unmarked file is read as it is; a setting the site lacks stops the step
// with the template's message; an installer without site data refuses.
func TestTemplatesRenderWithTheSiteData(t *testing.T) {
	tgz := testChart(t, "nfs", "1.0.0", "nfs: {server: \"\"}\n", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"})
	files := map[string][]byte{
		"charts/nfs-1.0.0.tgz":                 tgz,
		"values/storage/nfs.tmpl.yaml":         []byte(`nfs: {server: {{ required "storage.nfs.server is not set in the inventory" .Storage.NFS.Server | quote }}}` + "\n"),
		"values/storage/plain.yaml":            []byte("note: \"{{ not a template }}\"\n"),
		"manifests/storage/registry.tmpl.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: site, namespace: default}\ndata: {registry: {{ quote .Site.Registry }}}\n"),
	}
	r := testBundle(t, files, nil)
	site := func(server string) *Installer {
		in, err := Open(writeKubeconfig(t, "https://127.0.0.1:1"), r, WithTemplateData(template.Data{
			Site:    template.Site{Registry: "harbor.plant.example"},
			Storage: template.Storage{NFS: template.NFS{Server: server, Path: "/export"}},
		}))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	rel := bundle.Release{Name: "nfs", Namespace: "storage", Chart: "charts/nfs-1.0.0.tgz", Values: []string{"values/storage/plain.yaml", "values/storage/nfs.tmpl.yaml"}}
	_, vals, fp1, err := site("10.0.0.5").loadRelease(rel)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := yaml.Marshal(vals); string(got) != "nfs:\n  server: 10.0.0.5\nnote: '{{ not a template }}'\n" {
		t.Errorf("values:\n%s\nwant the site's NFS server rendered in, the plain file as written", got)
	}
	_, _, fp2, err := site("10.0.0.6").loadRelease(rel)
	if err != nil || fp1 == fp2 {
		t.Errorf("another NFS server: fingerprint %q vs %q (%v); want a new one, so the release is upgraded", fp2, fp1, err)
	}
	objs, err := site("10.0.0.5").readManifests([]string{"manifests/storage/registry.tmpl.yaml"})
	if err != nil || len(objs) != 1 || objs[0].obj.Object["data"].(map[string]any)["registry"] != "harbor.plant.example" {
		t.Errorf("rendered manifest %v, %v; want data.registry = harbor.plant.example", objs, err)
	}
	_, _, _, err = site("").loadRelease(rel)
	if err == nil || !strings.Contains(err.Error(), "values file values/storage/nfs.tmpl.yaml") || !strings.Contains(err.Error(), "storage.nfs.server is not set in the inventory") {
		t.Errorf("a site without an NFS server: %v", err)
	}
	bare, err := Open(writeKubeconfig(t, "https://127.0.0.1:1"), r)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := bare.loadRelease(rel); err == nil || !strings.Contains(err.Error(), "no site data") {
		t.Errorf("an installer without site data rendered a template: %v", err)
	}
}

// writeKubeconfig writes an admin kubeconfig of kubeadm's shape for
// server, with a throwaway CA and client certificate.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	pki, err := kubeconfigtest.New(server)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, pki.Admin.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenRefusesWhatKubeadmDoesNotWrite: a kubeconfig naming an exec
// plugin (which would run a program on the deploy node), a key file or a
// proxy is refused by Open, naming the field, and the plugin never runs;
// with WithAPIServer, a kubeconfig naming another server is refused.
func TestOpenRefusesWhatKubeadmDoesNotWrite(t *testing.T) {
	r := testBundle(t, map[string][]byte{}, nil)
	good, err := os.ReadFile(writeKubeconfig(t, "https://127.0.0.1:6443"))
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "pwned")
	for _, c := range []struct{ after, line, want string }{
		{"  user:\n", "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: /bin/sh, args: [-c, 'touch " + marker + "']}\n", "users[0].user.exec"},
		{"  user:\n", "    client-key: /etc/shadow\n", "users[0].user.client-key"},
		{"  cluster:\n", "    proxy-url: http://127.0.0.1:3128\n", "clusters[0].cluster.proxy-url"},
	} {
		text := strings.Replace(string(good), c.after, c.after+c.line, 1)
		p := filepath.Join(t.TempDir(), "admin.conf")
		os.WriteFile(p, []byte(text), 0o600)
		in, err := Open(p, r)
		if err == nil {
			// Make the request the plugin would authenticate.
			_, _ = in.cluster.Discovery.ServerVersion()
			t.Errorf("Open accepted a kubeconfig with %s", c.want)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open: %v, want an error naming %s", err, c.want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the kubeconfig's exec plugin ran on the deploy node")
	}
	p := writeKubeconfig(t, "https://127.0.0.1:6443")
	if _, err := Open(p, r, WithAPIServer("10.0.0.10:6443")); err == nil || !strings.Contains(err.Error(), "clusters[0].cluster.server") {
		t.Errorf("Open with another pinned server: %v, want a refusal naming the server", err)
	}
	if _, err := Open(p, r, WithAPIServer("127.0.0.1:6443")); err != nil {
		t.Errorf("Open with the pinned server: %v", err)
	}
}

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestRolloutOf(t *testing.T) {
	for _, c := range []struct {
		name, kind, y string
		ready, failed bool
		why           string
	}{
		{"deployment not observed", "Deployment", "metadata: {generation: 2}\nstatus: {observedGeneration: 1}", false, false, "has not seen generation 2"},
		{"deployment rolling", "Deployment", "metadata: {generation: 1}\nspec: {replicas: 3}\nstatus: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 1}", false, false, "1 of 3 updated replicas available"},
		{"deployment old replicas", "Deployment", "metadata: {generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 3, updatedReplicas: 2, availableReplicas: 2}", false, false, "1 old replicas are pending termination"},
		{"deployment default replicas", "Deployment", "metadata: {generation: 1}\nspec: {}\nstatus: {observedGeneration: 1}", false, false, "0 of 1 replicas updated"},
		{"deployment done", "Deployment", "metadata: {generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2}", true, false, ""},
		{"deployment deadline", "Deployment", "metadata: {generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Progressing, status: \"False\", reason: ProgressDeadlineExceeded, message: ReplicaSet \"x\" has timed out progressing.}]}", false, true, "exceeded its progress deadline: ReplicaSet \"x\" has timed out"},
		{"statefulset", "StatefulSet", "metadata: {generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, readyReplicas: 1}", false, false, "1 of 2 pods ready"},
		{"statefulset revision", "StatefulSet", "metadata: {generation: 1}\nspec: {replicas: 1}\nstatus: {observedGeneration: 1, readyReplicas: 1, updatedReplicas: 0, currentRevision: a, updateRevision: b}", false, false, "0 of 1 pods at revision b"},
		{"statefulset done", "StatefulSet", "metadata: {generation: 1}\nspec: {replicas: 1}\nstatus: {observedGeneration: 1, readyReplicas: 1, currentRevision: a, updateRevision: a}", true, false, ""},
		{"daemonset", "DaemonSet", "metadata: {generation: 1}\nstatus: {observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2}", false, false, "2 of 3 updated pods available"},
		{"daemonset done", "DaemonSet", "metadata: {generation: 1}\nstatus: {observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3}", true, false, ""},
		{"job running", "Job", "status: {active: 1}", false, false, "not complete: 1 active, 0 succeeded, 0 failed pods"},
		{"job failed", "Job", "status: {conditions: [{type: Failed, status: \"True\", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]}", false, true, "failed: BackoffLimitExceeded: Job has reached"},
		{"job complete", "Job", "status: {conditions: [{type: Complete, status: \"True\"}]}", true, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rolloutOf(c.kind, obj(t, c.y))
			if r.ready != c.ready || r.failed != c.failed || !strings.Contains(r.why, c.why) {
				t.Errorf("rollout %+v, want ready %v failed %v why containing %q", r, c.ready, c.failed, c.why)
			}
		})
	}
}

func TestPodProblem(t *testing.T) {
	for _, c := range []struct {
		name, y  string
		ok       bool
		text     string
		wantNone bool
	}{
		{name: "image pull", y: `metadata: {name: p, namespace: ns}
status: {phase: Pending, containerStatuses: [{name: app, ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff, message: Back-off pulling image "x:1"}}}]}`,
			ok: true, text: `pod ns/p ImagePullBackOff: container app Back-off pulling image "x:1"`},
		{name: "crash loop", y: `metadata: {name: p, namespace: ns}
status: {phase: Running, containerStatuses: [{name: app, restartCount: 4, state: {waiting: {reason: CrashLoopBackOff, message: back-off 40s}}, lastState: {terminated: {exitCode: 2, reason: Error}}}]}`,
			ok: true, text: "pod ns/p CrashLoopBackOff: container app back-off 40s (restarted 4 times, last exit 2 Error)"},
		{name: "init container first", y: `metadata: {name: p, namespace: ns}
status: {phase: Pending, initContainerStatuses: [{name: init, state: {terminated: {exitCode: 1, reason: Error, message: boom}}}], containerStatuses: [{name: app, state: {waiting: {reason: PodInitializing}}}]}`,
			ok: true, text: "pod ns/p Error: container init exited 1 boom"},
		{name: "unschedulable", y: `metadata: {name: p, namespace: ns}
status: {phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: 0/3 nodes are available}]}`,
			ok: true, text: "pod ns/p Unschedulable: 0/3 nodes are available"},
		{name: "readiness probe", y: `metadata: {name: p, namespace: ns}
status: {phase: Running, containerStatuses: [{name: app, ready: false, state: {running: {startedAt: "2024-01-01T00:00:00Z"}}}]}`,
			ok: true, text: "pod ns/p NotReady: container app is running but not ready"},
		{name: "ready", y: `metadata: {name: p, namespace: ns}
status: {phase: Running, conditions: [{type: Ready, status: "True"}]}`, ok: false},
		{name: "succeeded", y: `metadata: {name: p, namespace: ns}
status: {phase: Succeeded}`, ok: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ok := podProblem(obj(t, c.y))
			if ok != c.ok {
				t.Fatalf("podProblem ok = %v, want %v (%+v)", ok, c.ok, p)
			}
			if ok && !strings.HasPrefix(p.String(), c.text) {
				t.Errorf("problem %q, want it to start %q", p.String(), c.text)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{What: "release nfs (namespace storage)", Err: errTest("not ready after 10m0s"),
		Workloads: []string{"Deployment storage/nfs: 0 of 1 updated replicas available"},
		Pods: []PodProblem{{Namespace: "storage", Name: "nfs-abc-123", Reason: "ImagePullBackOff", Message: `container nfs Back-off pulling image "nfs:4"`,
			Event: `Failed: Failed to pull image "nfs:4": not found`}}}
	want := `release nfs (namespace storage): not ready after 10m0s: Deployment storage/nfs: 0 of 1 updated replicas available; ` +
		`pod storage/nfs-abc-123 ImagePullBackOff: container nfs Back-off pulling image "nfs:4" (last event Failed: Failed to pull image "nfs:4": not found)`
	if e.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", e.Error(), want)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestDecodeObjects(t *testing.T) {
	in := "---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n---\n" +
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: x}\n"
	objs, err := decodeObjects(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.obj.GetKind()+"/"+o.obj.GetName())
	}
	if strings.Join(got, " ") != "ConfigMap/a Secret/b Deployment/d" || objs[2].doc != 3 {
		t.Errorf("objects %v (last in document %d), want the List's items then the Deployment of document 3 (the first is the comment)", got, objs[len(objs)-1].doc)
	}
	if _, err := decodeObjects(strings.NewReader("metadata: {name: x}\n")); err == nil || !strings.Contains(err.Error(), "document 1 has no apiVersion or kind") {
		t.Errorf("a document without a kind: %v", err)
	}
	ws, err := workloads(in, "rel-ns", "")
	if err != nil || len(ws) != 1 || ws[0].String() != "Deployment x/d" {
		t.Errorf("workloads %v, %v", ws, err)
	}
}

func TestApplyOrder(t *testing.T) {
	objs := []manifestObject{
		{object: object{obj: obj(t, "apiVersion: factory.example/v1\nkind: Widget\nmetadata: {name: w}")}},
		{object: object{obj: obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}")}},
		{object: object{obj: obj(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}")}},
		{object: object{obj: obj(t, "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.factory.example}")}},
	}
	sort.SliceStable(objs, func(i, j int) bool { return applyOrder(objs[i]) < applyOrder(objs[j]) })
	var got []string
	for _, o := range objs {
		got = append(got, o.obj.GetKind())
	}
	if strings.Join(got, " ") != "CustomResourceDefinition Namespace Widget ConfigMap" {
		t.Errorf("apply order %v", got)
	}
}

// TestFingerprint: another chart or other values give another fingerprint;
// values in another key order give the same one.
func TestFingerprint(t *testing.T) {
	a := "sha256:" + strings.Repeat("a", 64)
	b := "sha256:" + strings.Repeat("b", 64)
	fp := func(digest string, v map[string]any) string {
		s, err := Fingerprint(digest, v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := fp(a, map[string]any{"x": 1, "y": map[string]any{"z": "q"}})
	if same := fp(a, map[string]any{"y": map[string]any{"z": "q"}, "x": 1}); same != base {
		t.Errorf("the same values in another order: %s, want %s", same, base)
	}
	if fp(b, map[string]any{"x": 1, "y": map[string]any{"z": "q"}}) == base {
		t.Error("another chart gives the same fingerprint")
	}
	if fp(a, map[string]any{"x": 2, "y": map[string]any{"z": "q"}}) == base {
		t.Error("other values give the same fingerprint")
	}
	if len(base) != 32 {
		t.Errorf("fingerprint %q is %d characters, want 32 (a label value)", base, len(base))
	}
}
