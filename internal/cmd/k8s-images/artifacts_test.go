package main

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/manifest"
)

// artifactsDir returns $APPLIANCE_K8S_DIR, the output of scripts/k8s/build.sh,
// or skips the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("APPLIANCE_K8S_DIR")
	if dir == "" {
		t.Skip("APPLIANCE_K8S_DIR is not set: run APPLIANCE_K8S_DIR=$(scripts/k8s/build.sh) go test ./internal/cmd/k8s-images/ to check the real Kubernetes artifacts")
	}
	if _, err := os.Stat(filepath.Join(dir, "BUILD-INFO")); err != nil {
		t.Fatalf("APPLIANCE_K8S_DIR=%s is not a finished scripts/k8s/build.sh output: %v", dir, err)
	}
	return dir
}

// buildInfo reads BUILD-INFO's key=value lines.
func buildInfo(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "BUILD-INFO"))
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			info[k] = v
		}
	}
	return info
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestArtifactsBinaries(t *testing.T) {
	dir := artifactsDir(t)
	info := buildInfo(t, dir)
	bin := filepath.Join(dir, "bin")
	if got := output(t, filepath.Join(bin, "kubeadm"), "version", "-o", "short"); got != info["kubernetes"] || got != "v1.26.15" {
		t.Errorf("kubeadm version -o short = %q, want %s (BUILD-INFO) = v1.26.15", got, info["kubernetes"])
	}
	// crictl v1.26.1, packaged as cri-tools-1.26.0 (versions.env).
	if got := output(t, filepath.Join(bin, "crictl"), "--version"); got != "crictl version "+info["crictl"] || info["crictl"] != "v1.26.1" {
		t.Errorf("crictl --version = %q, want crictl version %s (BUILD-INFO) = v1.26.1", got, info["crictl"])
	}
	// The kubeadm for `config validate`: v1.34.4, at its documented path.
	val := filepath.Join(dir, "validate", "kubeadm-v1.34.4")
	if got := output(t, val, "version", "-o", "short"); got != info["kubeadm-validate"] || got != "v1.34.4" {
		t.Errorf("%s version -o short = %q, want %s (BUILD-INFO) = v1.34.4", val, got, info["kubeadm-validate"])
	}
	for _, b := range []string{"kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		args := []string{"--version"}
		if b == "kubectl" {
			args = []string{"version", "--client"}
		}
		if got := output(t, filepath.Join(bin, b), args...); !strings.Contains(got, info["kubernetes"]) {
			t.Errorf("%s %s = %q, want %s in it", b, args[0], got, info["kubernetes"])
		}
	}
	if got := output(t, filepath.Join(bin, "etcd"), "--version"); !strings.Contains(got, "etcd Version: "+strings.TrimPrefix(info["etcd"], "v")) {
		t.Errorf("etcd --version = %q, want %s", got, info["etcd"])
	}
	for _, b := range []string{"etcdctl", "etcdutl"} {
		if got := output(t, filepath.Join(bin, b), "version"); !strings.Contains(got, b+" version: "+strings.TrimPrefix(info["etcd"], "v")) {
			t.Errorf("%s version = %q, want %s", b, got, info["etcd"])
		}
	}
	if got := output(t, filepath.Join(bin, "coredns"), "-version"); !strings.Contains(got, "CoreDNS-"+strings.TrimPrefix(info["coredns"], "v")) {
		t.Errorf("coredns -version = %q, want %s", got, info["coredns"])
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		// A CNI plugin without CNI_COMMAND prints its "about" line.
		cmd := exec.Command(filepath.Join(bin, "cni", p))
		cmd.Env = []string{}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), info["cni"]) {
			t.Errorf("cni/%s about = %q, want %s in it", p, out, info["cni"])
		}
	}
	// Everything is static: no interpreter.
	for _, b := range []string{"kubeadm", "kubelet", "kube-apiserver", "crictl", "etcd", "etcdctl", "etcdutl", "coredns", "pause", "hello", "cni/bridge", "../validate/kubeadm-v1.34.4"} {
		if out, err := exec.Command("ldd", filepath.Join(bin, b)).CombinedOutput(); err == nil && !strings.Contains(string(out), "not a dynamic executable") {
			t.Errorf("%s is dynamically linked:\n%s", b, out)
		}
	}
}

func TestArtifactsPause(t *testing.T) {
	dir := artifactsDir(t)
	cmd := exec.Command(filepath.Join(dir, "bin", "pause"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited by itself: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// Signal it once it catches SIGINT (its handler is set up; on a busy
	// machine the Go runtime's start can take longer than the wait above).
	for i := 0; !catches(cmd.Process.Pid, syscall.SIGINT); i++ {
		if i == 100 {
			t.Fatal("pause does not catch SIGINT after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pause after SIGINT: %v, want exit 0", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("pause ignored SIGINT")
	}
}

func TestArtifactsImages(t *testing.T) {
	dir := artifactsDir(t)
	// Exactly the built-in stack's names, in its order, and they agree with
	// the built kubeadm's list.
	stack, err := StackImages("kubesphere", "kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	_, names, err := KubeadmImages(context.Background(), filepath.Join(dir, "bin", "kubeadm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckImages(stack, names); err != nil {
		t.Error(err)
	}
	want := append(slices.Clone(stack), HelloImage)
	listed, err := os.ReadFile(filepath.Join(dir, "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(listed)); !slices.Equal(got, want) {
		t.Errorf("images.txt = %v, want %v", got, want)
	}
	imgs, err := ReadLayout(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, imgs, want)
	for _, im := range imgs {
		if strings.Contains(im.Name, "/kube-proxy:") {
			iptablesInChroot(t, im)
		}
	}
	roundTrip(t, filepath.Join(dir, "oci"))
}

// iptablesInChroot unpacks kube-proxy's layer and, when this test runs as
// root, checks that the image's iptables-restore parses the kinds of rule
// kube-proxy writes (extensions loaded from the image, nothing applied).
func iptablesInChroot(t *testing.T, im LayoutImage) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: kube-proxy's iptables not run in a chroot")
		return
	}
	root := t.TempDir()
	layers, err := im.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		if err := untar(rc, root); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	rules := "*nat\n:KUBE-TEST - [0:0]\n" +
		"-A KUBE-TEST -m comment --comment \"test\" -j MASQUERADE --random-fully\n" +
		"-A KUBE-TEST -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.0.0.1:80\n" +
		"-A KUBE-TEST -m conntrack --ctstate INVALID -m mark --mark 0x4000/0x4000 -j MARK --set-xmark 0x4000/0x4000\n" +
		"COMMIT\n"
	for prog, r := range map[string]string{
		"/usr/sbin/iptables-restore":  rules,
		"/usr/sbin/ip6tables-restore": strings.ReplaceAll(rules, "10.0.0.1:80", "[fd00::1]:80"),
	} {
		cmd := exec.Command("chroot", root, prog, "--test")
		cmd.Stdin = strings.NewReader(r)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kube-proxy image: %s --test: %v\n%s", prog, err, out)
		}
	}
	if out, err := exec.Command("chroot", root, "/usr/sbin/iptables", "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "nf_tables") {
		t.Errorf("kube-proxy image: iptables --version: %v %s", err, out)
	}
}

// untar extracts regular files, directories and symlinks under root.
func untar(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

func TestArtifactsRPMs(t *testing.T) {
	dir := artifactsDir(t)
	info := buildInfo(t, dir)
	repo := filepath.Join(dir, "rpms")
	rpms, err := filepath.Glob(filepath.Join(repo, "*.rpm"))
	if err != nil || len(rpms) == 0 {
		t.Fatalf("no RPMs in %s", repo)
	}
	db := t.TempDir()
	// Without the key the signature cannot be checked: proof it is there.
	for _, r := range rpms {
		if out, err := exec.Command("rpmkeys", "--dbpath", db, "--checksig", r).CombinedOutput(); err == nil {
			t.Errorf("rpmkeys --checksig %s passed without the key:\n%s", filepath.Base(r), out)
		}
	}
	output(t, "rpmkeys", "--dbpath", db, "--import", filepath.Join(dir, "RPM-GPG-KEY-k8s"))
	for _, r := range rpms {
		if got := output(t, "rpmkeys", "--dbpath", db, "--checksig", r); !strings.HasSuffix(got, ": digests signatures OK") {
			t.Errorf("rpmkeys --checksig: %s", got)
		}
	}
	k8s, cni := strings.TrimPrefix(info["kubernetes"], "v"), strings.TrimPrefix(info["cni"], "v")
	// Every package is NAME-VERSION as the built-in stack's kubernetes
	// component pins it (kubeadm-1.26.15, cri-tools-1.26.0, ...).
	st, err := manifest.Builtin("kubesphere")
	if err != nil {
		t.Fatal(err)
	}
	comp, ok := st.Component("kubernetes")
	if !ok {
		t.Fatal("kubesphere has no kubernetes component")
	}
	var pinned []string
	for _, r := range comp.RPMs {
		pinned = append(pinned, r.Spec)
	}
	type pkg struct {
		version  string
		requires []string
		files    []string
	}
	want := map[string]pkg{
		"kubelet": {k8s, []string{"kubernetes-cni"}, []string{"/usr/bin/kubelet", "/usr/lib/systemd/system/kubelet.service",
			"/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", "/etc/sysconfig/kubelet"}},
		"kubeadm":        {k8s, []string{"cri-tools", "kubelet"}, []string{"/usr/bin/kubeadm"}},
		"cri-tools":      {info["cri-tools-rpm"], nil, []string{"/usr/bin/crictl"}},
		"kubectl":        {k8s, nil, []string{"/usr/bin/kubectl"}},
		"kubernetes-cni": {cni, nil, []string{"/opt/cni/bin/bridge", "/opt/cni/bin/host-local", "/opt/cni/bin/loopback", "/opt/cni/bin/portmap"}},
	}
	seen := map[string]bool{}
	for _, r := range rpms {
		q := strings.Fields(output(t, "rpm", "-qp", "--nosignature", "--qf", "%{NAME} %{VERSION} %{ARCH} %{PAYLOADCOMPRESSOR} %{BUILDHOST}", r))
		w, ok := want[q[0]] // requires sorted
		if !ok {
			t.Errorf("unexpected package %s", filepath.Base(r))
			continue
		}
		seen[q[0]] = true
		if !slices.Contains(pinned, q[0]+"-"+q[1]) {
			t.Errorf("%s-%s: the kubesphere stack pins none such (its kubernetes rpms: %v)", q[0], q[1], pinned)
		}
		if q[1] != w.version || q[2] != "x86_64" || q[3] != "gzip" || q[4] != "build.appliance.invalid" {
			t.Errorf("%s: version/arch/payload/buildhost %v, want %s x86_64 gzip build.appliance.invalid", q[0], q[1:], w.version)
		}
		var reqs []string
		for _, l := range strings.Split(output(t, "rpm", "-qpR", "--nosignature", r), "\n") {
			if !strings.HasPrefix(l, "rpmlib(") {
				reqs = append(reqs, strings.TrimSpace(l))
			}
		}
		slices.Sort(reqs)
		if !slices.Equal(reqs, w.requires) {
			t.Errorf("%s requires %q, want %q", q[0], reqs, w.requires)
		}
		files := strings.Split(output(t, "rpm", "-qpl", "--nosignature", r), "\n")
		for _, f := range w.files {
			if !slices.Contains(files, f) {
				t.Errorf("%s lacks %s (has %v)", q[0], f, files)
			}
		}
	}
	for n := range want {
		if !seen[n] {
			t.Errorf("no %s RPM", n)
		}
	}
	repomd, err := os.ReadFile(filepath.Join(repo, "repodata", "repomd.xml"))
	if err != nil || !strings.Contains(string(repomd), `<data type="primary">`) {
		t.Errorf("repodata/repomd.xml: %v", err)
	}
}

// catches reports whether process pid catches signal sig (its SigCgt mask
// in /proc/PID/status).
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if mask, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(mask), 16, 64)
			return err == nil && m&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}
