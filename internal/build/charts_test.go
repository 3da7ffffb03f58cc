package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/extract"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/gate"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lint"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// chartStack is a stack directory with one chart of each source: the local
// fixture chart factory-app, a chart from a repository on loopback, and a
// chart from the fixture registry.
type chartStack struct {
	dir      string
	registry *fixture.Registry
	repoURL  string
}

func newChartStack(t *testing.T) *chartStack {
	t.Helper()
	ctx := context.Background()
	reg, err := fixture.StartRegistry(ctx)
	if err != nil {
		t.Fatalf("start docker-registry (Debian package docker-registry): %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	if _, err := fixture.PushDemoSet(ctx, reg.Addr()); err != nil {
		t.Fatal(err)
	}
	s := &chartStack{dir: t.TempDir(), registry: reg}
	copyDir(t, "../charts/testdata/factory-app", filepath.Join(s.dir, "charts/factory-app"))
	s.repoURL = serveRepoChart(t, "repo-app", "1.2.0", "registry.factory.example/library/app:1.0")
	pushOCIChart(t, reg.Addr()+"/charts/oci-app:0.3.0", "oci-app", "0.3.0", "registry.factory.example/library/app:1.0")
	// The factory chart's init container needs library/db.
	writeFileT(t, filepath.Join(s.dir, "values/core.yaml"),
		"image: registry.factory.example/library/app:1.0\ninitImage: registry.factory.example/library/db:1.0\n")
	return s
}

// write writes stack.yaml listing images and allowMissingImages, and
// parses it.
func (s *chartStack) write(t *testing.T, imgs []string, allow []string) *manifest.Stack {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: charts, version: 0.1.0}\nspec:\n")
	fmt.Fprintf(&b, "  registryMirrors: {registry.factory.example: %q}\n  components:\n    - name: core\n      images:\n", s.registry.Addr())
	for _, i := range imgs {
		fmt.Fprintf(&b, "        - %s\n", i)
	}
	fmt.Fprintf(&b, "      charts:\n        - {path: charts/factory-app}\n        - {name: repo-app, repo: %q, version: \"1.x\"}\n", s.repoURL)
	fmt.Fprintf(&b, "        - {oci: \"oci://%s/charts/oci-app\", version: \"~0.3\"}\n      values: [values/core.yaml]\n", s.registry.Addr())
	if len(allow) > 0 {
		fmt.Fprintf(&b, "      allowMissingImages: [%s]\n", strings.Join(allow, ", "))
	}
	data := []byte(b.String())
	writeFileT(t, filepath.Join(s.dir, "stack.yaml"), b.String())
	st, err := manifest.Parse(filepath.Join(s.dir, "stack.yaml"), data, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := lint.Check(st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *chartStack) build(t *testing.T, st *manifest.Stack, allow ...string) (string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	_, err := Build(context.Background(), Options{Stack: st, Output: out, CacheDir: filepath.Join(s.dir, ".cache"), AllowMissing: allow, Workers: 2})
	return out, err
}

const (
	appRef = "registry.factory.example/library/app:1.0"
	dbRef  = "registry.factory.example/library/db:1.0"
)

func TestBuildFailsOnImageMissingFromCharts(t *testing.T) {
	s := newChartStack(t)
	out, err := s.build(t, s.write(t, []string{appRef}, nil))
	var me *gate.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("build error %v, want a *gate.MissingError", err)
	}
	want := `image registry.factory.example/library/db:1.0 referenced by chart factory-app (templates/deployment.yaml, Deployment core/app, initContainer init) is not in the bundle; add it to component "core"`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
	}
	if len(me.Missing) != 1 {
		t.Errorf("missing %+v, want only the init container's image", me.Missing)
	}
	if _, statErr := os.Stat(out); statErr == nil {
		t.Error("a failed build left a bundle behind")
	}
}

func TestBuildWithChartsExtractsAndRendersWithHelm(t *testing.T) {
	s := newChartStack(t)
	out, err := s.build(t, s.write(t, []string{appRef, dbRef}, nil))
	if err != nil {
		t.Fatalf("adding the image did not make the build pass: %v", err)
	}
	r, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	idx := r.Index()
	wantCharts := []string{"charts/factory-app-0.1.0.tgz", "charts/oci-app-0.3.0.tgz", "charts/repo-app-1.2.0.tgz"}
	for _, p := range wantCharts {
		a, ok := r.Lookup(p)
		if !ok || a.Kind != bundle.KindChart || a.Component != "core" {
			t.Errorf("bundle entry %s: %+v (found %v), want a chart of component core", p, a, ok)
		}
	}
	if got := strings.Join(idx.Components[0].Charts, ","); got != strings.Join(wantCharts, ",") {
		t.Errorf("component core lists charts %s", got)
	}
	dir := t.TempDir()
	if err := extract.Extract(context.Background(), r, dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range wantCharts {
		rendered := helmTemplate(t, filepath.Join(dir, p))
		if !strings.Contains(rendered, appRef) {
			t.Errorf("helm template %s does not use %s:\n%s", p, appRef, rendered)
		}
	}
	checkChartArtifacts(t, dir, wantCharts)
}

// checkChartArtifacts checks that index.json names each chart as a Helm
// OCI artifact whose content layer is the chart's .tgz.
func checkChartArtifacts(t *testing.T, dir string, tgzs []string) {
	t.Helper()
	var index v1.IndexManifest
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	layers := map[string]string{} // layer digest → ref
	for _, d := range index.Manifests {
		var m v1.Manifest
		readJSON(t, filepath.Join(dir, "blobs/sha256", d.Digest.Hex), &m)
		if m.Config.MediaType != charts.ConfigMediaType {
			continue
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != charts.ContentMediaType {
			t.Errorf("%s: layers %+v", d.Annotations["org.opencontainers.image.ref.name"], m.Layers)
			continue
		}
		layers[m.Layers[0].Digest.String()] = d.Annotations["org.opencontainers.image.ref.name"]
	}
	for _, p := range tgzs {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if _, ok := layers["sha256:"+hex.EncodeToString(sum[:])]; !ok {
			t.Errorf("%s is not the content layer of any Helm OCI artifact in index.json (artifacts: %v)", p, layers)
		}
	}
	if len(layers) != len(tgzs) {
		t.Errorf("index.json has %d chart artifacts, want %d: %v", len(layers), len(tgzs), layers)
	}
}

func TestBuildAllowMissingImage(t *testing.T) {
	s := newChartStack(t)
	t.Run("command line", func(t *testing.T) {
		out, err := s.build(t, s.write(t, []string{appRef}, nil), dbRef)
		if err != nil {
			t.Fatalf("--allow-missing-image did not make the build pass: %v", err)
		}
		if got := allowedMissing(t, out); got != dbRef {
			t.Errorf("bundle.json allowedMissing = %q, want %q", got, dbRef)
		}
	})
	t.Run("manifest", func(t *testing.T) {
		out, err := s.build(t, s.write(t, []string{appRef}, []string{"registry.factory.example/library/db:1.0"}))
		if err != nil {
			t.Fatalf("allowMissingImages did not make the build pass: %v", err)
		}
		if got := allowedMissing(t, out); got != dbRef {
			t.Errorf("bundle.json allowedMissing = %q, want %q", got, dbRef)
		}
	})
}

func allowedMissing(t *testing.T, path string) string {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return strings.Join(r.Index().AllowedMissing, ",")
}

func TestLockCharts(t *testing.T) {
	s := newChartStack(t)
	st := s.write(t, []string{appRef, dbRef}, nil)
	l, err := Lock(context.Background(), Options{Stack: st, CacheDir: filepath.Join(s.dir, ".cache")})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Charts) != 2 {
		t.Fatalf("lock charts %v, want the repo and OCI charts (local charts are not locked)", l.Charts)
	}
	for key, lc := range l.Charts {
		if lc.Version != "1.2.0" && lc.Version != "0.3.0" || !strings.HasPrefix(lc.Digest, "sha256:") {
			t.Errorf("lock %s = %+v", key, lc)
		}
	}
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	if _, err := Build(context.Background(), Options{Stack: st, Output: out, CacheDir: filepath.Join(s.dir, ".cache"), Lock: l, Locked: true}); err != nil {
		t.Fatalf("locked build: %v", err)
	}
	for key, lc := range l.Charts {
		lc.Digest = "sha256:" + strings.Repeat("0", 64)
		l.Charts[key] = lc
	}
	_, err = Build(context.Background(), Options{Stack: st, Output: out + "2", CacheDir: filepath.Join(t.TempDir(), "cache"), Lock: l, Locked: true})
	var de *lock.DriftError
	if !errors.As(err, &de) || len(de.Drifts) != 2 {
		t.Fatalf("locked build against a wrong lock: %v, want a DriftError with both charts", err)
	}
}

func helmTemplate(t *testing.T, tgz string) string {
	t.Helper()
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the helm CLI is not at %s: run scripts/install-tools.sh", bin)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, "template", "rel", tgz, "--kube-version", charts.KubeVersion)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", tgz, err, stderr.String())
	}
	return string(out)
}

// serveRepoChart serves a one-chart repository on loopback and returns its
// URL.
func serveRepoChart(t *testing.T, chartName, version, image string) string {
	t.Helper()
	tgz := packageChart(t, chartName, version, image)
	sum := sha256.Sum256(tgz)
	mux := http.NewServeMux()
	mux.HandleFunc("/repo/index.yaml", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "apiVersion: v1\nentries:\n  %s:\n    - {name: %s, version: %s, digest: %s, urls: [%s-%s.tgz]}\n    - {name: %s, version: 2.0.0, urls: [gone.tgz]}\n",
			chartName, chartName, version, hex.EncodeToString(sum[:]), chartName, version, chartName)
	})
	mux.HandleFunc("/repo/"+chartName+"-"+version+".tgz", func(w http.ResponseWriter, _ *http.Request) { w.Write(tgz) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/repo"
}

// packageChart packages a one-Deployment chart with the charts package.
func packageChart(t *testing.T, chartName, version, image string) []byte {
	t.Helper()
	dir := t.TempDir()
	writeFileT(t, filepath.Join(dir, chartName, "Chart.yaml"), "apiVersion: v2\nname: "+chartName+"\nversion: "+version+"\n")
	writeFileT(t, filepath.Join(dir, chartName, "values.yaml"), "image: "+image+"\n")
	writeFileT(t, filepath.Join(dir, chartName, "templates/deploy.yaml"),
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          image: {{ .Values.image }}\n")
	var buf bytes.Buffer
	if _, err := charts.Package(os.DirFS(dir), chartName, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushOCIChart pushes a chart to a registry as `helm push` lays it out.
func pushOCIChart(t *testing.T, ref, chartName, version, image string) {
	t.Helper()
	tgz := packageChart(t, chartName, version, image)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfgData := []byte(fmt.Sprintf(`{"name":%q,"version":%q,"apiVersion":"v2"}`, chartName, version))
	cfg := static.NewLayer(cfgData, charts.ConfigMediaType)
	content := static.NewLayer(tgz, charts.ContentMediaType)
	for _, l := range []v1.Layer{cfg, content} {
		if err := remote.WriteLayer(r.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	cd, _ := cfg.Digest()
	ld, _ := content.Digest()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		charts.ConfigMediaType, cd, len(cfgData), charts.ContentMediaType, ld, len(tgz))
	if err := remote.Put(r, ociManifest(m)); err != nil {
		t.Fatal(err)
	}
}

type ociManifest string

func (m ociManifest) RawManifest() ([]byte, error)        { return []byte(m), nil }
func (m ociManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, strings.TrimPrefix(p, from))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFileT(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// TestKubeSphereStackLintsAndDryRuns checks the built-in kubesphere stack
// offline: it lints, and a dry run lists every image, RPM and chart.
func TestKubeSphereStackLintsAndDryRuns(t *testing.T) {
	s, err := manifest.Builtin("kubesphere")
	if err != nil {
		t.Fatal(err)
	}
	if err := lint.Check(s); err != nil {
		t.Fatalf("lint: %v", err)
	}
	var out bytes.Buffer
	if err := DryRun(&out, Options{Stack: s}); err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, img := range s.Images() {
		if !lines["image "+img.Ref] {
			t.Errorf("dry run does not list image %s", img.Ref)
		}
	}
	for _, r := range s.RPMs() {
		if !lines["rpm "+r.Spec] {
			t.Errorf("dry run does not list rpm %s", r.Spec)
		}
	}
	for _, c := range s.Charts() {
		if !lines["chart "+c.LockKey()] {
			t.Errorf("dry run does not list chart %s", c.LockKey())
		}
	}
	want := []string{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.8", "kubesphere/ks-installer:v3.4.1", "calico/node:v3.26.1",
		"kubesphere/ks-jenkins:v3.4.0-2.319.3-1", "goharbor/harbor-core:v2.8.4", "quay.io/cephcsi/cephcsi:v3.9.0"}
	for _, w := range want {
		if !lines["image "+w] {
			t.Errorf("the kubesphere stack lacks %s", w)
		}
	}
	for _, r := range []string{"containerd.io-1.6.33", "kubeadm-1.26.15", "kubelet-1.26.15", "kubectl-1.26.15", "cri-tools-1.26.0", "kubernetes-cni-1.2.0",
		"keepalived", "haproxy", "nfs-utils", "ceph-common", "socat", "conntrack-tools", "ebtables", "ipset", "ipvsadm", "chrony", "docker-ce", "docker-compose"} {
		if !lines["rpm "+r] {
			t.Errorf("the kubesphere stack does not request rpm %s", r)
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("total: %d images", len(s.Images()))) {
		t.Errorf("dry run total line missing or wrong:\n%s", out.String())
	}
}

// TestDryRunFailsLikeBuild: for each stack a build refuses before it
// fetches anything (a local chart with a link or without Chart.yaml, a
// missing local file, a lock that does not match, a split too small),
// `build --dry-run` (DryRun) fails too, with the same problem named, where
// it used to print the plan and succeed; lint (Check) refuses the
// manifest problems. A good stack dry-runs.
func TestDryRunFailsLikeBuild(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("linked/Chart.yaml", "apiVersion: v2\nname: linked\nversion: 1.0.0\n")
	write("linked/values.yaml", "x: 1\n")
	write("linked/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	if err := os.Symlink("../values.yaml", filepath.Join(dir, "linked", "templates", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	write("bare/values.yaml", "x: 1\n")
	write("good/Chart.yaml", "apiVersion: v2\nname: good\nversion: 1.0.0\n")
	write("good/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	write("files/app.conf", "listen = 1\n")
	stack := func(name, body string) *manifest.Stack {
		t.Helper()
		write(name, "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: t, version: 0.1.0}\nspec:\n  platform: linux/amd64\n  components:\n    - name: core\n"+body)
		st, err := manifest.Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	good := stack("good.yaml", "      charts: [{path: good}]\n      files: [{path: files/app.conf}]\n")
	cases := []struct {
		name   string
		o      Options
		want   string
		lintOK bool // a build option, not the manifest
	}{
		{"chart with a link", Options{Stack: stack("linked.yaml", "      charts: [{path: linked}]\n")}, "templates/link.yaml is a symbolic link", false},
		{"chart without Chart.yaml", Options{Stack: stack("bare.yaml", "      charts: [{path: bare}]\n")}, "bare/Chart.yaml", false},
		{"missing file", Options{Stack: stack("nofile.yaml", "      files: [{path: files/nope.conf}]\n")}, "files/nope.conf", false},
		{"lock of another stack", Options{Stack: good, Locked: true, Lock: &lock.Lock{}}, "lock", true},
		{"split too small", Options{Stack: good, Split: 1 << 20}, "--split", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := DryRun(&out, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("DryRun = %v, want an error naming %q; printed:\n%s", err, c.want, out.String())
			}
			o := c.o
			o.Output, o.CacheDir = filepath.Join(t.TempDir(), "out.bundle"), filepath.Join(t.TempDir(), "cache")
			berr := func() error { _, err := Build(context.Background(), o); return err }()
			if berr == nil || !strings.Contains(berr.Error(), c.want) {
				t.Errorf("Build = %v, want an error naming %q like DryRun's %q", berr, c.want, err)
			}
			if lerr := Check(c.o.Stack); (lerr == nil) != c.lintOK {
				t.Errorf("Check (lint) = %v", lerr)
			}
		})
	}
	var out bytes.Buffer
	if err := DryRun(&out, Options{Stack: good}); err != nil {
		t.Fatalf("DryRun of a good stack: %v", err)
	}
	if !strings.Contains(out.String(), "  chart good\n") {
		t.Errorf("the dry run does not name the local chart by its path:\n%s", out.String())
	}
}
