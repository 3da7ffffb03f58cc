package deploy

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/deploy/sitetest"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/manifest/template"
)

// stackSite is the test site with a bundle that installs a stack: component
// shop has the releases web (a Deployment) and broken (a Deployment whose
// pod never starts), component factory has a ConfigMap manifest.
func stackSite(t *testing.T) *testSite { return stackSiteWith(t, nil) }

// stackSiteWith is stackSite with its index changed by change first.
func stackSiteWith(t *testing.T, change func(*bundle.Index)) *testSite {
	t.Helper()
	s := newTestSite(t, fixtureRoles)
	chart := func(name string) []byte {
		t.Helper()
		fsys := fstest.MapFS{
			name + "/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: " + name + "\nversion: 1.2.3\n")},
			name + "/values.yaml": {Data: []byte("replicas: 1\n")},
			name + "/templates/deployment.yaml": {Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec: {containers: [{name: c, image: registry.factory.example/library/app:1.0}]}
`)},
		}
		var buf bytes.Buffer
		if _, err := charts.Package(fsys, name, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	files := map[string][]byte{
		"oci-layout":                    []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json":                    []byte(`{"schemaVersion":2,"manifests":[]}`),
		"charts/web-1.2.3.tgz":          chart("web"),
		"values/shop/shop.yaml":         []byte("replicas: 2\n"),
		"manifests/factory/config.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: factory-settings, namespace: default}\ndata: {mode: auto}\n"),
	}
	idx := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "stack", Version: "1.0.0", Platform: "linux/amd64", Components: []bundle.Component{
		{Name: "shop", Charts: []string{"charts/web-1.2.3.tgz"}, Releases: []bundle.Release{
			{Name: "web", Namespace: "shop", Chart: "charts/web-1.2.3.tgz", Values: []string{"values/shop/shop.yaml"}},
			{Name: "broken", Namespace: "shop", Chart: "charts/web-1.2.3.tgz"},
		}},
		{Name: "factory", Manifests: []string{"manifests/factory/config.yaml"}},
	}}
	if change != nil {
		change(idx)
	}
	// The base holds the stack; WriteBundle adds the test site's repo and signs.
	base := filepath.Join(t.TempDir(), "base.bundle")
	writeRawBundle(t, base, files, idx)
	spec := sitetest.Spec{Base: base, Component: "fixture", Annotations: fixtureRoles, Signer: s.signer}
	if err := sitetest.WriteBundle(s.bundle, spec); err != nil {
		t.Fatal(err)
	}
	return s
}

// writeRawBundle writes an unsigned bundle of files (kinds by directory)
// with the index idx.
func writeRawBundle(t *testing.T, path string, files map[string][]byte, idx *bundle.Index) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bundle.NewWriter(f)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		e, err := w.Add(p, int64(len(files[p])), bytes.NewReader(files[p]))
		if err != nil {
			t.Fatal(err)
		}
		kind := bundle.KindConfig
		switch {
		case strings.HasPrefix(p, "charts/"):
			kind = bundle.KindChart
		case !strings.Contains(p, "/"):
			kind = bundle.KindLayout
		}
		a := e.Artifact(kind, filepath.Base(p))
		if kind == bundle.KindChart {
			a.Name, a.Annotations = "web", map[string]string{bundle.AnnotationChartVersion: "1.2.3"}
		}
		idx.Artifacts = append(idx.Artifacts, a)
	}
	raw, err := idx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(raw, nil); err != nil {
		t.Fatal(err)
	}
}

// TestStackPhases: /stack has one step per release and per component's
// manifests, in the stack's order, run one after another on the deploy
// node; their titles name the chart and namespace; the dry run names the
// equivalent helm and kubectl commands. A bundle without an install plan
// has no /stack.
func TestStackPhases(t *testing.T) {
	s := stackSite(t)
	d := s.open(t, t.TempDir())
	p := d.stackPhase("/stack")
	if p == nil || p.ID != "/stack" || !p.Sequential {
		t.Fatalf("stack phase %+v, want a sequential /stack", p)
	}
	var got []string
	for _, c := range p.Children {
		got = append(got, c.ID+": "+c.Title)
		if c.Host != "" || c.Run == nil {
			t.Errorf("%s: host %q, want a leaf on the deploy node", c.ID, c.Host)
		}
	}
	want := []string{
		"/stack/web: Helm release web: chart web 1.2.3 in namespace shop",
		"/stack/broken: Helm release broken: chart web 1.2.3 in namespace shop",
		"/stack/factory-manifests: Apply the manifests of component factory (1 file(s))",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("children:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	full, err := d.Plan()
	if err != nil {
		t.Fatalf("the deployment's phases with /stack do not make a plan: %v", err)
	}
	roots := full.Roots()
	if last := roots[len(roots)-1]; last.ID != "/stack" {
		t.Errorf("the last phase is %s, want /stack", last.ID)
	}
	dry := strings.Join(p.Children[0].DryRun(), "\n") + "\n" + strings.Join(p.Children[2].DryRun(), "\n")
	for _, w := range []string{
		"helm upgrade --install web charts/web-1.2.3.tgz --namespace shop --create-namespace -f values/shop/shop.yaml --kubeconfig " + d.state.KubeconfigPath(),
		"kubectl apply --server-side --field-manager appliance-deploy --force-conflicts --kubeconfig " + d.state.KubeconfigPath() + " -f manifests/factory/config.yaml",
		"wait up to 10m0s",
	} {
		if !strings.Contains(dry, w) {
			t.Errorf("dry run lacks %q:\n%s", w, dry)
		}
	}
	if plain := newTestSite(t, fixtureRoles).open(t, t.TempDir()); plain.stackPhase("/stack") != nil {
		t.Error("a bundle without releases or manifests has a /stack phase")
	}
}

// TestStackPhaseWithoutKubeconfig: a step run before /kubernetes wrote the
// kubeconfig says so and names the way forward.
func TestStackPhaseWithoutKubeconfig(t *testing.T) {
	s := stackSite(t)
	stateDir := t.TempDir()
	d := s.open(t, stateDir)
	err := d.stackPhase("/stack").Children[0].Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no cluster kubeconfig in "+stateDir) {
		t.Errorf("error %v, want it to say the stateDir directory has no kubeconfig", err)
	}
}

// TestStackPhaseAgainstAPIServer runs /stack through the plan executor
// against a real kube-apiserver: web installs and rolls out, broken never
// does, and its failure names the release, its pod and how to run the step
// again; the journal shows web completed and broken failed.
func TestStackPhaseAgainstAPIServer(t *testing.T) {
	if os.Getenv(fixture.K8sBinEnv) == "" {
		t.Skipf("%s is unset: this test needs a real etcd and kube-apiserver; run scripts/k8s/build.sh and set %s=<the directory it prints>/bin", fixture.K8sBinEnv, fixture.K8sBinEnv)
	}
	a, err := fixture.StartAPIServer(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := a.RollOut(ctx, "shop", "web"); err != nil {
		t.Fatal(err)
	}
	s := stackSite(t)
	stateDir := t.TempDir()
	kc, err := os.ReadFile(a.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(stateDir, state.KubeconfigFile), kc)
	cfg := s.config(stateDir)
	cfg.StackTimeout = 5 * time.Second
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The kubeconfig is pinned to the endpoint deploy configured: here the
	// test API server's, as a VIP would be.
	u, err := url.Parse(a.URL())
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	d.inv.APIServer.VIP, d.inv.APIServer.Port = u.Hostname(), port
	p, err := plan.New(d.stackPhase("/stack"))
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	ex, err := plan.NewExecutor(p, stateDir, plan.Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	err = ex.Run(ctx)
	ex.Close()
	if err == nil {
		t.Fatal("/stack succeeded with a release that never rolls out")
	}
	t.Logf("/stack failed as it should:\n%v\nprogress:\n%s", err, progress.String())
	for _, w := range []string{
		"release broken (namespace shop): not ready after 5s: Deployment shop/broken:",
		"no pods: Deployment shop/broken has none; its controller in kube-controller-manager makes them",
		"deploy --resume, or deploy --phase /stack/broken",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error\n%v\nlacks %q", err, w)
		}
	}
	st, err := plan.LoadStatus(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]plan.State{"/stack/web": plan.Completed, "/stack/broken": plan.Failed, "/stack/factory-manifests": plan.Unstarted} {
		if got := st.State(id); got != want {
			t.Errorf("%s is %s, want %s\n%s", id, got, want, progress.String())
		}
	}
}

// TestPodNetworkFromTheBundle: with a component marked as the pod network,
// /kubernetes takes the deployer's bridge off every node instead of
// writing it, installs that component in /kubernetes/cni before it waits
// for the nodes, and /stack leaves it out; its dry run copies the
// kubeconfig from the first master, then applies the manifests; deploy
// upgrade applies it again (/upgrade/cni).
func TestPodNetworkFromTheBundle(t *testing.T) {
	s := stackSiteWith(t, func(x *bundle.Index) { x.Components[1].PodNetwork = true })
	d := s.open(t, t.TempDir())
	d.k8sVersion = "v1.34.4"
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var leaves []string
	for _, l := range p.LeavesUnder("/kubernetes") {
		leaves = append(leaves, l.ID)
	}
	want := "/kubernetes/init/master-1 /kubernetes/masters/master-2 /kubernetes/workers/worker-1 " +
		"/kubernetes/network/master-1 /kubernetes/network/master-2 /kubernetes/network/worker-1 " +
		"/kubernetes/cni/factory-manifests /kubernetes/ready/master-1 /kubernetes/upkeep/master-1 /kubernetes/upkeep/master-2"
	if strings.Join(leaves, " ") != want {
		t.Errorf("leaves %v\nwant %s", leaves, want)
	}
	if deps := strings.Join(p.Dependencies("/kubernetes/cni/factory-manifests"), " "); !strings.Contains(deps, "/kubernetes/network/worker-1") {
		t.Errorf("the CNI is installed before the bridge is gone: %s", deps)
	}
	if deps := strings.Join(p.Dependencies("/kubernetes/ready/master-1"), " "); !strings.Contains(deps, "/kubernetes/cni/factory-manifests") {
		t.Errorf("ready does not wait for the CNI: %s", deps)
	}
	var stackSteps []string
	for _, l := range p.LeavesUnder("/stack") {
		stackSteps = append(stackSteps, l.ID)
	}
	if strings.Join(stackSteps, " ") != "/stack/web /stack/broken" {
		t.Errorf("/stack steps %v, want the pod network left out", stackSteps)
	}
	// deploy upgrade applies the new bundle's pod network once every node
	// runs the new version, before the stack.
	x, err := d.upgradeOp(UpgradeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := leafIDs(t, x.phases)
	if !strings.Contains(ids, "/upgrade/ready/master-1 /upgrade/cni/factory-manifests /upgrade/stack/web") {
		t.Errorf("deploy upgrade's leaves do not apply the pod network between /upgrade/ready and /upgrade/stack:\n%s", ids)
	}
	var out bytes.Buffer
	if err := d.DryRun(&out); err != nil {
		t.Fatal(err)
	}
	dry := out.String()
	for _, w := range []string{
		"rm -f " + hostconf.CNIConflist,
		"systemctl disable --now appliance-pod-routes",
		`/sbin/ip route del "$cidr"`, // the unit's routes go with it
		"# on master-1: cat " + kubeadm.AdminConf,
		"kubectl apply --server-side --field-manager appliance-deploy --force-conflicts --kubeconfig " + d.state.KubeconfigPath() + " -f manifests/factory/config.yaml",
	} {
		if !strings.Contains(dry, w) {
			t.Errorf("dry run lacks %q", w)
		}
	}
	writesBridge := func(dry string) bool {
		return strings.Contains(dry, "to "+hostconf.CNIConflist+".appliance-new") || strings.Contains(dry, "to "+hostconf.PodRoutesUnit+".appliance-new")
	}
	if writesBridge(dry) {
		t.Error("with the bundle's CNI, the dry run still writes the deployer's bridge or pod routes")
	}
	// Without a pod network the same bundle keeps the bridge.
	plain := stackSite(t).open(t, t.TempDir())
	plain.k8sVersion = "v1.34.4"
	if plain.cniPhase("/kubernetes/cni", plain.masters[0]) != nil {
		t.Error("a bundle without a pod network component has /kubernetes/cni")
	}
	out.Reset()
	if err := plain.DryRun(&out); err != nil {
		t.Fatal(err)
	}
	if !writesBridge(out.String()) || strings.Contains(out.String(), "/kubernetes/cni") {
		t.Error("without the bundle's CNI, the dry run does not write the deployer's bridge")
	}
}

// TestTemplateDataFromTheInventory: the data the bundle's templates are
// rendered with is the inventory's: stack from bundle.json, network, the
// control plane's endpoint, Harbor as nodes reach it, NFS and Ceph; what
// the inventory leaves out stays empty, for `required` to name.
func TestTemplateDataFromTheInventory(t *testing.T) {
	d := stackSite(t).open(t, t.TempDir())
	d.k8sVersion = "v1.34.4"
	bare := d.TemplateData()
	if bare.Storage.NFS.Server != "" || len(bare.Storage.Ceph.Monitors) != 0 {
		t.Errorf("an inventory without storage gave %+v", bare.Storage)
	}
	d.inv.Storage.NFS = &inventory.NFS{Server: "10.1.0.5", Path: "/export/k8s"}
	d.inv.Storage.Ceph = &inventory.Ceph{Monitors: []string{"10.1.0.21:6789", "10.1.0.22:6789"}, ClusterID: "a7f64266-0894-4f1e-a635-d0aeaca0e993"}
	td := d.TemplateData()
	if td.Stack.Name != "stack" || td.Stack.Version != "1.0.0" {
		t.Errorf("stack %+v, want bundle.json's stack 1.0.0", td.Stack)
	}
	if td.Network.PodCIDR != d.inv.Network.PodCIDR || td.Network.ServiceCIDR != d.inv.Network.ServiceCIDR || td.Network.ControlPlane != d.cluster().Endpoint || td.Network.ControlPlane == "" {
		t.Errorf("network %+v, want the inventory's CIDRs and endpoint %s", td.Network, d.cluster().Endpoint)
	}
	if td.Storage.NFS.Server != "10.1.0.5" || td.Storage.NFS.Path != "/export/k8s" ||
		strings.Join(td.Storage.Ceph.Monitors, ",") != "10.1.0.21:6789,10.1.0.22:6789" || td.Storage.Ceph.ClusterID != "a7f64266-0894-4f1e-a635-d0aeaca0e993" {
		t.Errorf("storage %+v", td.Storage)
	}
	out, err := template.Render("v", []byte(`{{ .Storage.NFS.Server }}:{{ .Storage.NFS.Path }} {{ join "," .Storage.Ceph.Monitors }}`), td)
	if err != nil || string(out) != "10.1.0.5:/export/k8s 10.1.0.21:6789,10.1.0.22:6789" {
		t.Errorf("rendered %q, %v", out, err)
	}
	if td.Site.Registry != "harbor.unit.test" {
		t.Errorf(".Site.Registry = %q, want Harbor's hostname harbor.unit.test (port 443 left out)", td.Site.Registry)
	}
	d.inv.Harbor.Port = 8443
	if r := d.TemplateData().Site.Registry; r != "harbor.unit.test:8443" {
		t.Errorf(".Site.Registry = %q with Harbor on 8443", r)
	}
}
