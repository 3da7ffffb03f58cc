package hostsetup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Hostile names as a bundle.json could carry them if the checks at open
// (bundle.ParseIndex) were bypassed: deploy quotes them regardless. Each
// would create a file named pwned-* in the shell's directory if it were
// not kept as one word.
const (
	hostileRepo = "x; touch pwned-repo"
	hostileKey  = "k$(touch pwned-key)"
	hostilePkg  = "p;touch${IFS}pwned-pkg"
)

func hostileIndex() *bundle.Index {
	return &bundle.Index{Name: "stack", Version: "1.0",
		Artifacts: []bundle.Artifact{
			{Path: "repos/" + hostileRepo + "/repodata/repomd.xml"},
			{Path: "repos/" + hostileRepo + "/keys/" + hostileKey},
			{Path: "repos/" + hostileRepo + "/Packages/" + hostilePkg + "-1.0-1.x86_64.rpm"},
			{Path: "repos/" + hostileRepo + "/Packages/chain-a-1.0-1.x86_64.rpm"},
		},
		Annotations: map[string]string{PackagesAnnotation + "master": "chain-a " + hostilePkg},
	}
}

// hostileCommands runs /repos and /packages of a master against a fake
// host with hostileIndex and returns the commands sent.
func hostileCommands(t *testing.T) []string {
	t.Helper()
	site := &Site{Index: hostileIndex(), SeedURL: "https://127.0.0.1:5443", CACert: func() []byte { return nil }}
	host := &remotetest.FakeHost{Host: "master-1"}
	h := &remote.Host{Runner: host, Host: inventory.Host{Name: "master-1", Roles: []inventory.Role{inventory.RoleMaster}}}
	if err := site.Repos(context.Background(), h); err != nil {
		t.Fatalf("repos: %v", err)
	}
	if err := site.Packages(context.Background(), h); err != nil {
		t.Fatalf("packages: %v", err)
	}
	return host.Commands
}

// TestHostCommandsQuoteBundleValues: the repo id, key name and package
// names from bundle.json reach the host's shell quoted, as one word each.
func TestHostCommandsQuoteBundleValues(t *testing.T) {
	cmds := strings.Join(hostileCommands(t), "\n")
	dst := hostconf.HostKeyPath(hostileRepo, hostileKey)
	for _, want := range []string{
		"-o " + sshx.Quote(dst+".tmp") + " ",
		"mv -f -- " + sshx.Quote(dst+".tmp") + " " + sshx.Quote(dst),
		"rpm --import " + sshx.Quote(dst),
		"/repos/x%3B%20touch%20pwned-repo/keys/k$%28touch%20pwned-key%29'", // path-escaped inside the quoted URL
		"install 'chain-a' " + sshx.Quote(hostilePkg),
		"rpm -q 'chain-a' " + sshx.Quote(hostilePkg),
	} {
		if !strings.Contains(cmds, want) {
			t.Errorf("the commands lack %q:\n%s", want, cmds)
		}
	}
}

// TestHostCommandsStayOneWordInSh runs the commands /repos and /packages
// send through a real sh -c, with every program they call replaced by a
// stub that records its arguments: no hostile value runs a command, and
// each arrives as one argument.
func TestHostCommandsStayOneWordInSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	work := filepath.Join(dir, "work")
	log := filepath.Join(dir, "args.log")
	for _, d := range []string{bin, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Every stub prints its name and each argument in brackets, one
	// invocation a line; touch too, so that an injected touch is recorded
	// even if it did not create its file.
	stub := "#!" + sh + "\nprintf '[%s]' \"${0##*/}\" \"$@\" >>" + sshx.Quote(log) + "\necho >>" + sshx.Quote(log) + "\n"
	for _, name := range []string{"mkdir", "curl", "mv", "rpm", "yum", "update-ca-trust", "touch"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range hostileCommands(t) {
		cmd := exec.Command(sh, "-c", c)
		cmd.Dir, cmd.Env = work, []string{"PATH=" + bin}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", c, err, out)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	calls := string(b)
	if strings.Contains(calls, "[touch]") {
		t.Errorf("a hostile value ran touch:\n%s", calls)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("the commands left %d file(s) in their directory, e.g. %s", len(ents), ents[0].Name())
	}
	dst := hostconf.HostKeyPath(hostileRepo, hostileKey)
	for _, want := range []string{
		"[mv][-f][--][" + dst + ".tmp][" + dst + "]",
		"[rpm][--import][" + dst + "]",
		"[install][chain-a][" + hostilePkg + "]",
		"[rpm][-q][chain-a][" + hostilePkg + "]",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("no call with arguments %s:\n%s", want, calls)
		}
	}
}

func TestRolePackages(t *testing.T) {
	idx := &bundle.Index{Name: "b", Version: "1", Artifacts: []bundle.Artifact{
		{Path: "repos/base/Packages/chain-a-1.0-1.x86_64.rpm"},
		{Path: "repos/base/Packages/kubeadm-1.28.2-0.x86_64.rpm"},
		{Path: "repos/base/Packages/conntrack-tools-1.4.4-11.el7.x86_64.rpm"},
		{Path: "repos/base/repodata/repomd.xml"},
		{Path: "repos/base/keys/RPM-GPG-KEY"},
	}}
	idx.Annotations = map[string]string{PackagesAnnotation + "master": "kubeadm chain-a", PackagesAnnotation + "worker": "chain-a conntrack-tools"}
	got, err := RolePackages(idx, []inventory.Role{inventory.RoleMaster, inventory.RoleWorker})
	if err != nil || strings.Join(got, " ") != "chain-a conntrack-tools kubeadm" {
		t.Errorf("RolePackages(master, worker) = %v, %v", got, err)
	}
	if got, err := RolePackages(idx, []inventory.Role{inventory.RoleRegistry}); err != nil || len(got) != 0 {
		t.Errorf("a role the annotations do not name got %v, %v", got, err)
	}
	idx.Annotations = nil
	_, err = RolePackages(idx, []inventory.Role{inventory.RoleWorker})
	if err == nil || !strings.Contains(err.Error(), "kubelet (role worker)") || !strings.Contains(err.Error(), "rpms") {
		t.Errorf("default packages missing from the bundle: %v", err)
	}
	if r := hostconf.BundleRepos(idx); len(r) != 1 || r[0].ID != "base" || strings.Join(r[0].Keys, " ") != "RPM-GPG-KEY" {
		t.Errorf("BundleRepos = %+v", r)
	}
	for file, name := range map[string]string{
		"conntrack-tools-1.4.4-11.el7.x86_64.rpm": "conntrack-tools", "chain-a-1.0-1.x86_64.rpm": "chain-a",
		"containerd.io-1.6.28-3.1.el7.x86_64.rpm": "containerd.io", "bad.rpm": "",
	} {
		if got := RPMName(file); got != name {
			t.Errorf("RPMName(%s) = %q, want %q", file, got, name)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	idx := &bundle.Index{Name: "b", Version: "2", Artifacts: []bundle.Artifact{
		{Path: "repos/kubernetes/kubeadm-1.26.15-1.x86_64.rpm"},
		{Path: "repos/kubernetes/kubelet-1.26.15-1.x86_64.rpm"},
		{Path: "repos/base/Packages/kubeadm-bash-1.26.14-1.x86_64.rpm"},
	}}
	if got, err := PackageVersion(idx, "kubeadm", "1.26.15"); err != nil || got != "kubeadm-1.26.15-1" {
		t.Errorf("PackageVersion(kubeadm, 1.26.15) = %q, %v", got, err)
	}
	if _, err := PackageVersion(idx, "kubeadm", "1.26.14"); err == nil || !strings.Contains(err.Error(), "kubeadm-1.26.15-1, not kubeadm at 1.26.14") {
		t.Errorf("another version: %v", err)
	}
	if _, err := PackageVersion(idx, "kubectl", "1.26.15"); err == nil || !strings.Contains(err.Error(), "has no package kubectl") {
		t.Errorf("no such package: %v", err)
	}
}

// TestSandboxImageOfTheRelease: containerd runs pods with the pause image
// the bundle's kubeadm expects, whatever other pause tags the bundle
// carries (the KubeSphere stack carries 3.6 and 3.8 for the runtimes'
// defaults too).
func TestSandboxImageOfTheRelease(t *testing.T) {
	idx := &bundle.Index{Images: []bundle.Image{{Name: "registry.k8s.io/pause:3.6"}, {Name: "registry.k8s.io/pause:3.8"},
		{Name: "registry.k8s.io/pause:3.9"}, {Name: "registry.k8s.io/kube-apiserver:v1.26.15"}}}
	if got := SandboxImage(idx); got != "registry.k8s.io/pause:3.9" {
		t.Errorf("1.26: %s", got)
	}
	idx.Images[3].Name = "registry.k8s.io/kube-apiserver:v1.34.4"
	if got := SandboxImage(idx); got != "registry.k8s.io/pause:3.10.1" {
		t.Errorf("1.34: %s", got)
	}
	if got := SandboxImage(&bundle.Index{Images: idx.Images[1:2]}); got != "registry.k8s.io/pause:3.8" {
		t.Errorf("no Kubernetes: %s", got)
	}
	if got := SandboxImage(&bundle.Index{}); got != hostconf.DefaultSandboxImage {
		t.Errorf("nothing: %s", got)
	}
}
