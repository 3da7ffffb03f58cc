package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/factory-appliance/appliance/manifest"
)

// DefaultXtables is Debian's iptables (package iptables): the nf_tables
// flavour, one multi-call binary.
const DefaultXtables = "/usr/sbin/xtables-nft-multi"

// HelloImage is our test workload: a static HTTP server on :8080 answering
// "hello from HOSTNAME" (scripts/k8s/extra/hello).
const HelloImage = "registry.factory.example/library/hello:1.0"

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imageSpec is what goes into one image.
type imageSpec struct {
	Name       string   // full reference, registry/repo:tag
	Entrypoint []string // absolute path first
	User       string   // "" for root
	Ports      []string // exposed, e.g. "8080/tcp"
	Files      []entry
}

// KubeadmImages runs `kubeadm config images list` for kubeadm's own
// version (`kubeadm version -o short`) and returns the names, in its order.
func KubeadmImages(ctx context.Context, kubeadm string) (version string, names []string, err error) {
	v, err := exec.CommandContext(ctx, kubeadm, "version", "-o", "short").Output()
	if err != nil {
		return "", nil, fmt.Errorf("%s version: %w", kubeadm, exitDetail(err))
	}
	version = strings.TrimSpace(string(v))
	out, err := exec.CommandContext(ctx, kubeadm, "config", "images", "list", "--kubernetes-version", version).Output()
	if err != nil {
		return "", nil, fmt.Errorf("%s config images list: %w", kubeadm, exitDetail(err))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			names = append(names, l)
		}
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("%s config images list printed no images", kubeadm)
	}
	return version, names, nil
}

// StackImages returns the image names of a component of a built-in stack
// (manifest/stacks), as written there, in order: the names the site pulls.
// Each must be pinned by tag only: we build the image it names.
func StackImages(stack, component string) ([]string, error) {
	st, err := manifest.Builtin(stack)
	if err != nil {
		return nil, err
	}
	c, ok := st.Component(component)
	if !ok {
		return nil, fmt.Errorf("built-in stack %s has no component %q", stack, component)
	}
	var names []string
	for _, im := range c.Images {
		if im.Tag == "" || im.Digest != "" {
			return nil, fmt.Errorf("stack %s, component %s: image %s must be pinned by tag only: the images are built here, their digests are ours", stack, component, im.Ref)
		}
		names = append(names, im.Ref)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("stack %s, component %s lists no images", stack, component)
	}
	return names, nil
}

// CheckImages compares the names a stack pins (want) with what the built
// kubeadm pulls (kubeadm): every name kubeadm lists must be pinned, and every
// pinned name kubeadm does not list must be a pause image (the runtimes'
// default sandbox images, which the one pause binary also serves).
func CheckImages(want, kubeadm []string) error {
	var missing, extra []string
	for _, n := range kubeadm {
		if !slices.Contains(want, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range want {
		if slices.Contains(kubeadm, n) {
			continue
		}
		r, err := name.ParseReference(n, name.StrictValidation)
		if err != nil {
			return fmt.Errorf("image name %q: %w", n, err)
		}
		if repo := r.Context().RepositoryStr(); repo != "pause" && !strings.HasSuffix(repo, "/pause") {
			extra = append(extra, n)
		}
	}
	if len(missing)+len(extra) == 0 {
		return nil
	}
	msg := "the stack's images and `kubeadm config images list` of the built kubeadm differ:"
	if len(missing) > 0 {
		msg += " kubeadm pulls " + strings.Join(missing, ", ") + ", which the stack does not pin;"
	}
	if len(extra) > 0 {
		msg += " the stack pins " + strings.Join(extra, ", ") + ", which kubeadm does not pull and which is no pause image;"
	}
	return errors.New(msg + " make scripts/k8s/versions.env build the Kubernetes version the stack pins, or fix the stack's image list")
}

func exitDetail(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}

// kubernetesImages are the repositories whose tag is the Kubernetes
// version (the others, etcd, coredns and pause, have their own).
var kubernetesImages = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"}

// Retag gives the Kubernetes images among names (kubernetesImages) the tag
// version, for binaries stamped with another version (scripts/k8s/build.sh
// --previous); the other names stay.
func Retag(names []string, version string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		r, err := name.NewTag(n, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("image name %q: %w", n, err)
		}
		repo := r.Context().RepositoryStr()
		out[i] = n
		if slices.Contains(kubernetesImages, repo[strings.LastIndex(repo, "/")+1:]) {
			out[i] = r.Context().Name() + ":" + version
		}
	}
	return out, nil
}

// specFor maps an image name to its content: the binary of the same name
// from binDir, placed and started as in the official image. The repository's
// last path element decides, and the tag is always kubeadm's, whatever
// version we built: registry.k8s.io/etcd gets kubeadm's etcd tag
// (3.5.10-0 for kubeadm v1.26.15) holding our etcd from scripts/k8s/etcd
// (v3.5.10), coredns kubeadm's CoreDNS tag holding scripts/k8s/coredns, and
// every pause tag (kubeadm's 3.9 and the runtimes' defaults the stack pins)
// holds our own pause. The site must serve exactly the names kubeadm pulls;
// a version bump that makes them differ changes only what the tag holds.
func specFor(ref, binDir, xtables string) (imageSpec, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return imageSpec{}, fmt.Errorf("image name %q: %w", ref, err)
	}
	repo := r.Context().RepositoryStr()
	base := repo[strings.LastIndex(repo, "/")+1:]
	s := imageSpec{Name: ref, Files: baseFiles()}
	bin := func(file, at string) {
		s.Files = append(s.Files, entry{Path: at, Src: filepath.Join(binDir, file), Mode: 0o755})
		if s.Entrypoint == nil {
			s.Entrypoint = []string{at}
		}
	}
	switch base {
	case "kube-apiserver", "kube-controller-manager", "kube-scheduler":
		// The official images start /go-runner (a log-redirecting wrapper
		// we do not build) and keep the binary in /usr/local/bin; kubeadm's
		// static pods name the command, which PATH finds there.
		bin(base, "/usr/local/bin/"+base)
	case "kube-proxy":
		// kube-proxy drives iptables (iptables/nftables mode helpers,
		// conntrack cleanup uses netlink): the image carries Debian's
		// iptables-nft, as the official distroless-iptables base does.
		bin(base, "/usr/local/bin/"+base)
		x, err := xtablesFiles(xtables)
		if err != nil {
			return s, fmt.Errorf("kube-proxy: %w", err)
		}
		s.Files = append(s.Files, x...)
	case "etcd":
		// Official: etcd, etcdctl and etcdutl in /usr/local/bin.
		bin("etcd", "/usr/local/bin/etcd")
		bin("etcdctl", "/usr/local/bin/etcdctl")
		bin("etcdutl", "/usr/local/bin/etcdutl")
	case "coredns":
		// Official: ENTRYPOINT ["/coredns"], USER nonroot with a file
		// capability on /coredns to bind :53. We run it as root instead;
		// kubeadm's Deployment drops every capability but NET_BIND_SERVICE.
		bin("coredns", "/coredns")
		s.Ports = []string{"53/tcp", "53/udp"}
	case "pause":
		bin("pause", "/pause")
		s.User = "65535:65535"
	case "hello":
		bin("hello", "/hello")
		s.User = "65534:65534"
		s.Ports = []string{"8080/tcp"}
	default:
		return s, fmt.Errorf("image %s: no recipe for repository %q", ref, repo)
	}
	return s, nil
}

// baseFiles is the little a distroless static base holds.
func baseFiles() []entry {
	return []entry{
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), Mode: 0o644},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"), Mode: 0o644},
		{Path: "/etc/nsswitch.conf", Data: []byte("hosts: files dns\n"), Mode: 0o644},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: 65532, GID: 65532},
	}
}

// xtablesLinks are the names kube-proxy runs; all are the multi-call binary.
var xtablesLinks = []string{
	"iptables", "iptables-save", "iptables-restore",
	"ip6tables", "ip6tables-save", "ip6tables-restore",
	"iptables-nft", "iptables-nft-save", "iptables-nft-restore",
	"ip6tables-nft", "ip6tables-nft-save", "ip6tables-nft-restore",
}

// xtablesFiles returns xtables-nft-multi at its path, the iptables names as
// symlinks to it, its extension modules (the xtables directory beside
// libxtables), /etc/protocols, and every shared library ldd finds for all of
// them, each at the path ldd names.
func xtablesFiles(xtables string) ([]entry, error) {
	if _, err := os.Stat(xtables); err != nil {
		return nil, fmt.Errorf("%w (Debian package iptables)", err)
	}
	dir := filepath.Dir(xtables)
	out := []entry{{Path: xtables, Src: xtables, Mode: 0o755}}
	for _, l := range xtablesLinks {
		out = append(out, entry{Path: filepath.Join(dir, l), Link: filepath.Base(xtables)})
	}
	libs, err := ldd(xtables)
	if err != nil {
		return nil, err
	}
	var ext string
	for _, l := range libs {
		if strings.HasPrefix(filepath.Base(l), "libxtables.so") {
			real, err := filepath.EvalSymlinks(l)
			if err != nil {
				return nil, err
			}
			ext = filepath.Join(filepath.Dir(real), "xtables")
		}
	}
	if ext == "" {
		return nil, fmt.Errorf("ldd %s names no libxtables", xtables)
	}
	mods, err := filepath.Glob(filepath.Join(ext, "*.so"))
	if err != nil || len(mods) == 0 {
		return nil, fmt.Errorf("no xtables extensions in %s", ext)
	}
	all := map[string]bool{}
	for _, l := range libs {
		all[l] = true
	}
	for _, m := range mods {
		out = append(out, entry{Path: m, Src: m, Mode: 0o644})
		ml, err := ldd(m)
		if err != nil {
			return nil, err
		}
		for _, l := range ml {
			all[l] = true
		}
	}
	for l := range all {
		out = append(out, entry{Path: l, Src: l, Mode: 0o755})
	}
	for _, f := range []string{"/etc/protocols", "/etc/services", "/etc/ethertypes"} {
		if _, err := os.Stat(f); err == nil {
			out = append(out, entry{Path: f, Src: f, Mode: 0o644})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ldd lists the absolute paths of the shared objects file needs, the
// dynamic loader included.
func ldd(file string) ([]string, error) {
	out, err := exec.Command("ldd", file).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", file, exitDetail(err))
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("ldd %s: %s not found", file, f[0])
		}
	}
	return libs, nil
}
