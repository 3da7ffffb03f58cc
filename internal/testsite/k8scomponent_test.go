package testsite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/manifest"
)

// fakeK8sBuild lays out what scripts/k8s/build.sh makes, as far as
// k8s-component.sh reads it: images.txt (with the hello test image), the
// RPM key, and rpms/ with real (empty) RPMs built by rpmbuild and a
// repomd.xml.
func fakeK8sBuild(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"rpmbuild", "rpm", "docker-registry"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install the Debian packages of make deps (scripts/install-deps.sh)", tool)
		}
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "rpms", "repodata"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "rpms", "repodata", "repomd.xml"), []byte("<repomd/>\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "RPM-GPG-KEY-k8s"), []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "images.txt"), []byte("registry.k8s.io/kube-apiserver:v1.26.15\n"+
		"registry.k8s.io/coredns/coredns:v1.9.3\nregistry.k8s.io/pause:3.9\nregistry.factory.example/library/hello:1.0\n"), 0o644))
	top := t.TempDir()
	for _, name := range []string{"kubelet", "kubeadm"} {
		spec := filepath.Join(top, name+".spec")
		must(os.WriteFile(spec, fmt.Appendf(nil, "Name: %s\nVersion: 1.26.15\nRelease: 0\nSummary: fake\nLicense: none\nBuildArch: noarch\n%%description\nfake\n%%files\n", name), 0o644))
		if out, err := exec.Command("rpmbuild", "-bb", "--define", "_topdir "+top, "--define", "_rpmdir "+filepath.Join(dir, "rpms"),
			"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm", spec).CombinedOutput(); err != nil {
			t.Fatalf("rpmbuild %s: %v\n%s", name, err, out)
		}
	}
	return dir
}

// TestK8sComponentScript: scripts/site/k8s-component.sh links the build at
// CACHE/current, puts the RPM key and the Harbor stand-in installer beside
// the manifest, and prints a spec that, under a Stack's header, parses as
// a manifest with the kubernetes component (the build's RPMs by
// name-version, its images without the hello test image, the repo at the
// stable path) and the harbor component.
func TestK8sComponentScript(t *testing.T) {
	scripts, err := scriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	k8s := fakeK8sBuild(t)
	cache, stack := t.TempDir(), t.TempDir()
	cmd := exec.Command("bash", filepath.Join(scripts, "k8s-component.sh"), "--into", stack, "--k8s", k8s)
	cmd.Env = append(os.Environ(), "APPLIANCE_K8S_CACHE="+cache)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("k8s-component.sh: %v\n%s", err, stderr.String())
	}
	if target, err := os.Readlink(filepath.Join(cache, "current")); err != nil || target != k8s {
		t.Errorf("CACHE/current -> %q (%v), want %s", target, err, k8s)
	}
	for _, f := range []string{"RPM-GPG-KEY-k8s", "harbor-offline-installer-standin.tgz"} {
		if _, err := os.Stat(filepath.Join(stack, f)); err != nil {
			t.Errorf("not beside the manifest: %v", err)
		}
	}
	text := string(out)
	if !strings.Contains(text, "registry.k8s.io: REGISTRY") || !strings.Contains(text, "--registry 127.0.0.1:PORT") {
		t.Errorf("without --registry the mirror is not a marked placeholder:\n%s", text)
	}
	// As the comment says: with --registry the mirror is that address.
	text = strings.Replace(text, "registry.k8s.io: REGISTRY", "registry.k8s.io: 127.0.0.1:5000", 1)
	doc := "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: mine, version: 0.1.0}\n" + text
	st, err := manifest.Parse(filepath.Join(stack, "stack.yaml"), []byte(doc), stack)
	if err != nil {
		t.Fatalf("the printed spec does not parse as a manifest: %v\n%s", err, doc)
	}
	comps := map[string]manifest.Component{}
	for _, c := range st.Spec.Components {
		comps[c.Name] = c
	}
	k, h := comps["kubernetes"], comps["harbor"]
	var rpms, images []string
	for _, r := range k.RPMs {
		rpms = append(rpms, r.Spec)
	}
	for _, i := range k.Images {
		images = append(images, i.Ref)
	}
	if strings.Join(rpms, " ") != "kubeadm-1.26.15 kubelet-1.26.15" {
		t.Errorf("kubernetes rpms %v", rpms)
	}
	if slices.Contains(images, "registry.factory.example/library/hello:1.0") || len(images) != 3 {
		t.Errorf("kubernetes images %v, want the build's three without hello", images)
	}
	if !slices.Equal(k.Roles, []string{"master", "worker"}) || !slices.Equal(h.Roles, []string{"registry"}) || len(h.Files) != 1 {
		t.Errorf("components %+v", comps)
	}
	if len(st.Spec.RPMRepos) != 1 || st.Spec.RPMRepos[0].BaseURL != "file://"+cache+"/current/rpms" {
		t.Errorf("rpmRepos %+v, want the build at the stable path", st.Spec.RPMRepos)
	}
}

// TestK8sComponentWholeStack: with --stack and --mirror, k8s-component.sh
// prints a whole manifest that one's own components are appended to, as
// docs/first-app.md does, and the extra registry is mirrored too.
func TestK8sComponentWholeStack(t *testing.T) {
	scripts, err := scriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	k8s := fakeK8sBuild(t)
	stack := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(scripts, "k8s-component.sh"), "--into", stack, "--k8s", k8s,
		"--stack", "mine:1.2.3", "--mirror", "registry.myorg.example")
	cmd.Env = append(os.Environ(), "APPLIANCE_K8S_CACHE="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("k8s-component.sh: %v\n%s", err, stderr.String())
	}
	doc := strings.ReplaceAll(string(out), ": REGISTRY", ": 127.0.0.1:5000") +
		"    - name: mine\n      images: [registry.myorg.example/apps/mine:1.0]\n"
	st, err := manifest.Parse(filepath.Join(stack, "stack.yaml"), []byte(doc), stack)
	if err != nil {
		t.Fatalf("the printed stack with a component appended does not parse: %v\n%s", err, doc)
	}
	if st.Metadata.Name != "mine" || st.Metadata.Version != "1.2.3" || len(st.Spec.Components) != 3 {
		t.Errorf("stack %s %s with %d components", st.Metadata.Name, st.Metadata.Version, len(st.Spec.Components))
	}
	if got := st.Spec.RegistryMirrors["registry.myorg.example"]; got != "127.0.0.1:5000" {
		t.Errorf("registry.myorg.example is mirrored to %q", got)
	}
}
