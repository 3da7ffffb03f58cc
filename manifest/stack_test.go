package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadFull(t *testing.T) {
	path := filepath.Join("testdata", "full", "stack.yaml")
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := lintCheck(s); err != nil {
		t.Fatalf("Lint: %v", err)
	}
	if s.Metadata != (Metadata{Name: "full", Version: "0.1.0", Description: "every field"}) {
		t.Errorf("metadata = %+v", s.Metadata)
	}
	if got := s.Spec.Platform.String(); got != "linux/amd64" {
		t.Errorf("platform = %s", got)
	}
	if m, ok := s.MirrorFor("docker.io/calico/node:v3.26.4"); !ok || m != "127.0.0.1:5000" {
		t.Errorf("MirrorFor = %q, %v", m, ok)
	}
	if !reflect.DeepEqual(s.Spec.InsecureRegistries, []string{"registry.lan:5000"}) {
		t.Errorf("insecureRegistries = %v", s.Spec.InsecureRegistries)
	}
	wantRepos := []RPMRepo{
		{ID: "base", BaseURL: "http://127.0.0.1:8082/el7/base", GPGKeys: []string{"keys/RPM-GPG-KEY-base"}, GPGCheck: true, Pos: Pos{File: path, Line: 12, Column: 7}},
		{ID: "extras", BaseURL: "file:///srv/repos/extras", GPGCheck: false, Pos: Pos{File: path, Line: 16, Column: 7}},
	}
	if !reflect.DeepEqual(s.Spec.RPMRepos, wantRepos) {
		t.Errorf("rpmRepos =\n%+v\nwant\n%+v", s.Spec.RPMRepos, wantRepos)
	}
	if s.Spec.RPMBase != "rpms/centos7-minimal.txt" {
		t.Errorf("rpmBase = %q", s.Spec.RPMBase)
	}
	checkFullImages(t, s, path)
	checkFullOthers(t, s)
}

func checkFullImages(t *testing.T, s *Stack, path string) {
	t.Helper()
	list := filepath.ToSlash(filepath.Join("testdata", "full", "images", "kubesphere-v3.4.1.txt"))
	type img struct{ ref, canonical, source, section, key string }
	want := []img{
		{"127.0.0.1:5000/library/app:1.0", "127.0.0.1:5000/library/app:1.0", path + ":23", "", ""},
		{"127.0.0.1:5000/library/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "127.0.0.1:5000/library/db@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", path + ":24", "", ""},
		{"docker.io/calico/node:v3.26.4", "docker.io/calico/node:v3.26.4", path + ":25", "", "keys/calico.pub"},
		{"kubesphere/kube-apiserver:v1.26.12", "docker.io/kubesphere/kube-apiserver:v1.26.12", list + ":2", "k8s-images", "keys/vendor.pub"},
		{"kubesphere/pause:3.9", "docker.io/kubesphere/pause:3.9", list + ":3", "k8s-images", "keys/vendor.pub"},
		{"kubesphere/ks-installer:v3.4.1", "docker.io/kubesphere/ks-installer:v3.4.1", list + ":7", "kubesphere-images", "keys/vendor.pub"},
	}
	var got []img
	for _, i := range s.Images() {
		if i.Component != "core" {
			t.Errorf("image %s in component %q", i.Ref, i.Component)
		}
		got = append(got, img{i.Ref, i.Canonical, i.Source.String(), i.Section, i.VerifyKey})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("images =\n%v\nwant\n%v", got, want)
	}
}

func checkFullOthers(t *testing.T, s *Stack) {
	t.Helper()
	files := s.Files()
	if len(files) != 3 || files[1].URL != "http://127.0.0.1:8080/tool.tar.gz" || !files[2].Template || files[0].Name() != "app.conf" || files[1].Name() != "tool.tar.gz" || (File{URL: "https://h/d/x.bin?sig=1#f"}).Name() != "x.bin" {
		t.Errorf("files = %+v", files)
	}
	var specs []string
	for _, r := range s.RPMs() {
		specs = append(specs, r.Spec)
	}
	if !reflect.DeepEqual(specs, []string{"keepalived", "haproxy-1.5.18"}) {
		t.Errorf("rpms = %v", specs)
	}
	charts := s.Charts()
	wantKeys := []string{"http://127.0.0.1:8081/charts/kube-prometheus-stack@45.x", "oci://127.0.0.1:5000/charts/harbor@1.14.0", ""}
	for i, c := range charts {
		if c.LockKey() != wantKeys[i] {
			t.Errorf("chart %d lock key = %q, want %q", i, c.LockKey(), wantKeys[i])
		}
	}
	if charts[1].Release != "site-harbor" || charts[1].Namespace != "harbor" || charts[2].Source != ChartLocal || len(charts[2].Values) != 1 {
		t.Errorf("charts = %+v", charts)
	}
	allowed := s.AllowedMissingImages()
	if len(allowed) != 2 || allowed[0].Canonical != "docker.io/library/busybox:1.36" || allowed[1].Canonical != "docker.io/library/busybox:latest" {
		t.Errorf("allowMissingImages = %+v", allowed)
	}
	c, ok := s.Component("core")
	if !ok || len(c.ImageSources) != 4 || c.ImageSources[3].List != "images/kubesphere-v3.4.1.txt" || len(c.RPMFiles) != 1 {
		t.Errorf("component core = %+v", c)
	}
}

func TestParseReportsAllErrors(t *testing.T) {
	data := stack("  platform: linux/sparc\n  components:\n    - name: a\n      images: [Bad:1, good/one:1]\n      rpms: [\"a b\"]\n    - name: a\n      bogus: 1\n")
	_, err := ParseFS(testFS(), "m.yaml", []byte(data))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want ErrorList, got %v", err)
	}
	want := []string{"m.yaml:5: spec.platform", "m.yaml:8: bad image reference", "m.yaml:9: rpm \"a b\"", "m.yaml:10: component \"a\" is defined twice", "m.yaml:11: unknown field \"bogus\""}
	if len(list) != len(want) {
		t.Fatalf("want %d errors, got %d:\n%v", len(want), len(list), err)
	}
	lines := strings.Split(err.Error(), "\n")
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestDemoBuiltin(t *testing.T) {
	if names := BuiltinNames(); !reflect.DeepEqual(names, []string{"demo", "kubesphere"}) {
		t.Errorf("BuiltinNames = %v", names)
	}
	s, err := Builtin("demo")
	if err != nil {
		t.Fatalf("Builtin(demo): %v", err)
	}
	if err := lintCheck(s); err != nil {
		t.Fatalf("Lint: %v", err)
	}
	want := map[string][]string{
		"core":  {"registry.factory.example/library/app:1.0", "registry.factory.example/library/db:1.0"},
		"tools": {"registry.factory.example/library/multi:1.0", "registry.factory.example/library/logs:1.0"},
	}
	for _, c := range s.Spec.Components {
		var refs []string
		for _, i := range c.Images {
			refs = append(refs, i.Canonical)
		}
		if !reflect.DeepEqual(refs, want[c.Name]) {
			t.Errorf("component %s images = %v, want %v", c.Name, refs, want[c.Name])
		}
	}
	if got := s.Spec.RegistryMirrors.Rewrite("registry.factory.example/library/app:1.0"); got != "127.0.0.1:5000/library/app:1.0" {
		t.Errorf("demo mirror rewrite = %s", got)
	}
	f, err := s.Open("files/app.conf")
	if err != nil {
		t.Fatalf("open embedded file: %v", err)
	}
	f.Close()
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "built-in stacks are demo") {
		t.Errorf("Builtin(nope) = %v", err)
	}
	if _, err := Builtin("../manifest"); err == nil {
		t.Error("Builtin(../manifest) succeeded")
	}
}

func TestOpenRefusesEscape(t *testing.T) {
	s, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../builtin.go", "/etc/passwd", "files/../../builtin.go"} {
		if f, err := s.Open(p); err == nil {
			f.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestSymlinkOutsideRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.conf")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inside.conf"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside.conf", filepath.Join(dir, "ok.conf")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(stack("  components:\n    - name: a\n      files: [link.conf, ok.conf]\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = lintCheck(s)
	if err == nil || !strings.Contains(err.Error(), path+":7: file "+filepath.Join(dir, "link.conf")) || !strings.Contains(err.Error(), "copy the file inside") || strings.Contains(err.Error(), "ok.conf") {
		t.Errorf("Lint = %v, want one error for the link leading outside", err)
	}
}

func TestParseBaseDir(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "full", "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("full.yaml", data, filepath.Join("testdata", "full"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lintCheck(s); err != nil {
		t.Errorf("Lint: %v", err)
	}
	if p := s.Spec.Platform.OCI(); p.OS != "linux" || p.Architecture != "amd64" {
		t.Errorf("OCI platform = %+v", p)
	}
	if _, err := Parse("x.yaml", data, filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "manifest directory") {
		t.Errorf("Parse with a missing baseDir = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
}
