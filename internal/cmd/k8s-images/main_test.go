package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/fixture"
)

// fakeImages is what the fake kubeadm of the unit tests lists: kubeadm
// v1.26.15's `kubeadm config images list`, in its order.
var fakeImages = []string{
	"registry.k8s.io/kube-apiserver:v1.26.15",
	"registry.k8s.io/kube-controller-manager:v1.26.15",
	"registry.k8s.io/kube-scheduler:v1.26.15",
	"registry.k8s.io/kube-proxy:v1.26.15",
	"registry.k8s.io/pause:3.9",
	"registry.k8s.io/etcd:3.5.10-0",
	"registry.k8s.io/coredns/coredns:v1.9.3",
}

// fakeBin writes a bin directory whose kubeadm is a shell script listing
// fakeImages and whose other binaries are small placeholder files.
func fakeBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	kubeadm := "#!/bin/sh\ncase \"$1\" in\nversion) echo v1.26.15 ;;\nconfig) printf '%s\\n' " + strings.Join(fakeImages, " ") + " ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "kubeadm"), []byte(kubeadm), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "etcdctl", "etcdutl", "coredns", "pause", "hello"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\necho "+b+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func needXtables(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(DefaultXtables); err != nil {
		t.Skipf("%s not installed (Debian package iptables): kube-proxy's image needs it", DefaultXtables)
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		t.Skip("ldd not found")
	}
}

func TestBuildFromFakeBinaries(t *testing.T) {
	needXtables(t)
	ctx := context.Background()
	bin := fakeBin(t)
	out := filepath.Join(t.TempDir(), "oci")
	// The built-in stack's names, in its order: fakeImages plus two more
	// pause tags.
	stack, err := StackImages("kubesphere", "kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	names, err := Build(ctx, BuildOptions{Images: stack, BinDir: bin, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(stack), HelloImage)
	if !slices.Equal(names, want) {
		t.Fatalf("Build returned %v, want %v", names, want)
	}
	imgs, err := ReadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, imgs, want)

	// The same binaries give the same digests.
	out2 := filepath.Join(t.TempDir(), "oci")
	if _, err := Build(ctx, BuildOptions{Images: stack, BinDir: bin, Out: out2}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(out, "index.json"))
	b, _ := os.ReadFile(filepath.Join(out2, "index.json"))
	if !bytes.Equal(a, b) {
		t.Errorf("two builds of the same binaries differ:\n%s\n%s", a, b)
	}
	if _, err := Build(ctx, BuildOptions{Images: stack, BinDir: bin, Out: out}); err == nil {
		t.Error("Build into an existing layout succeeded")
	}
	// A stack whose names kubeadm does not pull is refused, naming them.
	bad := slices.DeleteFunc(slices.Clone(stack), func(n string) bool { return strings.Contains(n, "/etcd:") })
	if _, err := Build(ctx, BuildOptions{Images: bad, BinDir: bin, Out: filepath.Join(t.TempDir(), "oci")}); err == nil ||
		!strings.Contains(err.Error(), "registry.k8s.io/etcd:3.5.10-0") || !strings.Contains(err.Error(), "v1.26.15") {
		t.Errorf("Build of a stack without kubeadm's etcd: %v", err)
	}
	roundTrip(t, out)
}

func TestStackImages(t *testing.T) {
	got, err := StackImages("kubesphere", "kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	// Every name kubeadm v1.26.15 pulls, and the runtimes' pause tags.
	for _, n := range append(slices.Clone(fakeImages), "registry.k8s.io/pause:3.8", "registry.k8s.io/pause:3.6") {
		if !slices.Contains(got, n) {
			t.Errorf("kubesphere's kubernetes images %v lack %s", got, n)
		}
	}
	if len(got) != len(fakeImages)+2 {
		t.Errorf("kubesphere's kubernetes images %v: want %d", got, len(fakeImages)+2)
	}
	if _, err := StackImages("kubesphere", "no-such-component"); err == nil || !strings.Contains(err.Error(), "no-such-component") {
		t.Errorf("unknown component: %v", err)
	}
	if _, err := StackImages("no-such-stack", "kubernetes"); err == nil || !strings.Contains(err.Error(), "no-such-stack") {
		t.Errorf("unknown stack: %v", err)
	}
}

func TestCheckImages(t *testing.T) {
	kubeadm := fakeImages
	ok := append(slices.Clone(kubeadm), "registry.k8s.io/pause:3.6")
	if err := CheckImages(ok, kubeadm); err != nil {
		t.Errorf("kubeadm's images plus a pause tag: %v", err)
	}
	for _, tc := range []struct {
		name string
		want []string
		says []string
	}{
		{"a kubeadm image missing", kubeadm[1:], []string{"kubeadm pulls registry.k8s.io/kube-apiserver:v1.26.15", "versions.env"}},
		{"another version", append(slices.Clone(kubeadm[1:]), "registry.k8s.io/kube-apiserver:v1.26.14"),
			[]string{"kubeadm pulls registry.k8s.io/kube-apiserver:v1.26.15", "the stack pins registry.k8s.io/kube-apiserver:v1.26.14"}},
		{"an extra image", append(slices.Clone(kubeadm), "registry.k8s.io/sig-storage/csi-attacher:v4.3.0"),
			[]string{"the stack pins registry.k8s.io/sig-storage/csi-attacher:v4.3.0", "no pause image"}},
	} {
		err := CheckImages(tc.want, kubeadm)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.says {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want %q in it", tc.name, err, w)
			}
		}
	}
}

func TestMirrorRef(t *testing.T) {
	for ref, want := range map[string]string{
		"registry.k8s.io/pause:3.9":                  "127.0.0.1:5000/pause:3.9",
		"registry.k8s.io/coredns/coredns:v1.9.3":     "127.0.0.1:5000/coredns/coredns:v1.9.3",
		"registry.factory.example/library/hello:1.0": "127.0.0.1:5000/library/hello:1.0",
	} {
		got, err := MirrorRef("127.0.0.1:5000", ref)
		if err != nil || got.String() != want {
			t.Errorf("MirrorRef(%s) = %v, %v; want %s", ref, got, err, want)
		}
	}
	if _, err := Push(context.Background(), t.TempDir(), "192.0.2.1:5000"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Push to a non-loopback address: %v", err)
	}
}

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{nil, {"frob"}, {"build"}, {"push", "--layout", "x"}, {"list", "extra"}} {
		err := run(context.Background(), args, &out, &errb)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

// checkLayout checks the layout holds exactly want, each a linux/amd64 OCI
// image whose entrypoint is an executable regular file of its layer.
func checkLayout(t *testing.T, imgs []LayoutImage, want []string) {
	t.Helper()
	var got []string
	for _, im := range imgs {
		got = append(got, im.Name)
	}
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("layout names %v, want %v", got, want)
	}
	for _, im := range imgs {
		cf, err := im.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != "linux" || cf.Architecture != "amd64" {
			t.Errorf("%s: platform %s/%s", im.Name, cf.OS, cf.Architecture)
		}
		files := layerFiles(t, im.Image)
		if len(cf.Config.Entrypoint) == 0 {
			t.Errorf("%s: no entrypoint", im.Name)
			continue
		}
		ep := cf.Config.Entrypoint[0]
		h, ok := resolve(files, ep)
		switch {
		case !ok:
			t.Errorf("%s: entrypoint %s is not in the layer", im.Name, ep)
		case h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 || h.Size == 0:
			t.Errorf("%s: entrypoint %s is not an executable file (type %c, mode %o, size %d)", im.Name, ep, h.Typeflag, h.Mode, h.Size)
		}
		if strings.Contains(im.Name, "/kube-proxy:") {
			for _, f := range []string{"/usr/sbin/iptables", "/usr/sbin/ip6tables", "/usr/sbin/iptables-restore", "/usr/sbin/iptables-save", "/lib64/ld-linux-x86-64.so.2"} {
				if h, ok := resolve(files, f); !ok || h.Typeflag != tar.TypeReg {
					t.Errorf("kube-proxy: %s missing", f)
				}
			}
		}
	}
}

// layerFiles reads the headers of the image's layers, later layers winning.
func layerFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files["/"+strings.TrimSuffix(path.Clean(h.Name), "/")] = h
		}
		rc.Close()
	}
	return files
}

// resolve follows symlinks inside the layer.
func resolve(files map[string]*tar.Header, p string) (*tar.Header, bool) {
	for range 16 {
		h, ok := files[path.Clean(p)]
		if !ok || h.Typeflag != tar.TypeSymlink {
			return h, ok
		}
		if path.IsAbs(h.Linkname) {
			p = h.Linkname
		} else {
			p = path.Join(path.Dir(p), h.Linkname)
		}
	}
	return nil, false
}

// roundTrip pushes the layout into Debian's docker-registry on loopback
// and pulls every image back by its pushed name: same digest, same layers.
func roundTrip(t *testing.T, layoutDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reg, err := fixture.StartRegistry(ctx)
	if errors.Is(err, fixture.ErrNoRegistryBinary) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	pushed, err := Push(ctx, layoutDir, reg.Addr())
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := ReadLayout(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != len(imgs) {
		t.Fatalf("pushed %d images, the layout has %d", len(pushed), len(imgs))
	}
	for i, p := range pushed {
		tag, err := MirrorRef(reg.Addr(), p.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(tag, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull %s: %v", tag, err)
		}
		d, err := got.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != p.Digest || d != imgs[i].Desc.Digest {
			t.Errorf("%s: registry has %s, pushed %s, layout %s", tag, d, p.Digest, imgs[i].Desc.Digest)
		}
		gl, _ := got.Layers()
		wl, _ := imgs[i].Image.Layers()
		if len(gl) != len(wl) {
			t.Fatalf("%s: %d layers back, %d pushed", tag, len(gl), len(wl))
		}
		for j := range gl {
			a, _ := gl[j].Digest()
			b, _ := wl[j].Digest()
			if a != b {
				t.Errorf("%s: layer %d is %s in the registry, %s in the layout", tag, j, a, b)
			}
		}
	}
}

func TestRetag(t *testing.T) {
	got, err := Retag([]string{"registry.k8s.io/kube-apiserver:v1.26.15", "registry.k8s.io/kube-proxy:v1.26.15",
		"registry.k8s.io/etcd:3.5.10-0", "registry.k8s.io/coredns/coredns:v1.9.3", "registry.k8s.io/pause:3.9"}, "v1.26.14")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.k8s.io/kube-apiserver:v1.26.14", "registry.k8s.io/kube-proxy:v1.26.14",
		"registry.k8s.io/etcd:3.5.10-0", "registry.k8s.io/coredns/coredns:v1.9.3", "registry.k8s.io/pause:3.9"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Retag:\n got %v\nwant %v", got, want)
	}
	if _, err := Retag([]string{"registry.k8s.io/kube-apiserver@sha256:" + strings.Repeat("0", 64)}, "v1.26.14"); err == nil {
		t.Fatal("Retag of a digest reference: no error")
	}
}
