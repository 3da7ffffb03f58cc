package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// unitSite is a site of two masters behind a VIP (10.9.0.100:6443), whose
// hosts reach the site server at 127.0.0.1:5443, before the site CA exists.
func unitSite() *Site {
	master := []inventory.Role{inventory.RoleMaster}
	return &Site{Index: &bundle.Index{Name: "unit", Version: "1"}, DeployNode: "127.0.0.1",
		APIServer: inventory.APIServer{VIP: "10.9.0.100", Port: 6443, Interface: "eth0"},
		HAHosts:   []inventory.Host{{Name: "master-1", Address: "10.9.0.11", Roles: master}, {Name: "master-2", Address: "10.9.0.12", Roles: master}},
		CACert:    func() []byte { return nil }, SeedURL: "https://127.0.0.1:5443", Warn: io.Discard}
}

// TestPreflightReportsEveryProblem: one run reports every failed check of a
// host, not only the first.
func TestPreflightReportsEveryProblem(t *testing.T) {
	site := unitSite()
	master := inventory.Host{Name: "master-1", Roles: []inventory.Role{inventory.RoleMaster}}
	skewed := fmt.Sprint(time.Now().Add(-5 * time.Minute).Unix())
	host := &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{
		{Match: "cat /etc/os-release", Stdout: "ID=centos\nVERSION_ID=6\nPRETTY_NAME=\"CentOS release 6.10\"\n", Exit: 0},
		{Match: "uname -r", Stdout: "2.6.32-754.el6.x86_64", Exit: 0},
		{Match: "nproc", Stdout: "1", Exit: 0},
		{Match: "MemTotal", Stdout: "1000000", Exit: 0},
		{Match: "df -Pk /var", Stdout: "1048576", Exit: 0},
		{Match: "/proc/swaps", Stdout: "0", Exit: 0},
		{Match: "getenforce", Stdout: "Disabled", Exit: 0},
		{Match: "firewalld", Stdout: "active", Exit: 0},
		{Match: "date +%s", Stdout: skewed, Exit: 0},
		{Match: "ss -Hltnp", Stdout: `LISTEN 0 128 0.0.0.0:2379 0.0.0.0:* users:(("etcd-old",pid=1,fd=3))` + "\n" +
			`LISTEN 0 128 10.9.0.100:6443 0.0.0.0:* users:(("haproxy",pid=2,fd=3))`, Exit: 0},
		{Match: "command -v", Stdout: "update-ca-trust\nss", Exit: 0},
		{Match: "curl", Stdout: "", Exit: 7},
	}}
	err := site.Check(context.Background(), &remote.Host{Runner: host, Host: master})
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("preflight = %v, want a *Error", err)
	}
	wants := []string{"CentOS release 6.10", `kernel "2.6.32`, "1 CPU(s)", "MiB of memory", "GiB free in /var",
		"firewalld is running", "off the deploy node's", "port 2379 is in use by etcd-old",
		"missing commands: update-ca-trust, ss", "cannot reach the site server"}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	if len(pe.Problems) != len(wants) {
		t.Errorf("%d problems, want %d:\n%v", len(pe.Problems), len(wants), err)
	}
	if strings.Contains(err.Error(), "6443") {
		t.Error("haproxy on the apiserver port (a re-run after /ha) was reported")
	}
	if len(host.Uploads) != 1 || host.Uploads[0] != preflightCA {
		t.Errorf("preflight uploaded %v, want only the CA to %s", host.Uploads, preflightCA)
	}
}

// TestPreflightTestMode: with TestSiteHosts the marker file is read, and a
// host without the marker is refused even if it claims EL.
func TestPreflightTestMode(t *testing.T) {
	site := unitSite()
	site.TestSiteHosts = true
	h := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	for _, c := range []struct {
		marker string
		want   string
	}{
		{"APPLIANCE_TEST_HOST=1\nID=rocky\nVERSION_ID=8.9\n", ""},
		{"ID=rocky\nVERSION_ID=8.9\n", "does not mark a test-site host"},
	} {
		host := &remotetest.FakeHost{Host: "worker-1", Answers: []remotetest.Answer{
			{Match: "cat " + testHostMarker, Stdout: c.marker, Exit: 0}, {Match: "uname -r", Stdout: "6.1.0-18-amd64", Exit: 0}, {Match: "nproc", Stdout: "2", Exit: 0},
			{Match: "MemTotal", Stdout: "4000000", Exit: 0}, {Match: "df -Pk", Stdout: "100000000", Exit: 0}, {Match: "/proc/swaps", Stdout: "0", Exit: 0},
			{Match: "date +%s", Stdout: fmt.Sprint(time.Now().Unix()), Exit: 0}, {Match: "command -v", Stdout: "", Exit: 0}, {Match: "curl", Stdout: "200", Exit: 0},
		}}
		err := site.Check(context.Background(), &remote.Host{Runner: host, Host: h})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("marked test host refused: %v", err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("unmarked host: %v, want %q", err, c.want)
		}
	}
}

// TestPreflightCompatibility: the host rows of the compatibility matrix.
// Kubernetes 1.33 on a kernel older than 4.19 (kubeadm's SystemVerification
// would fail it) is refused, naming the row and the fix, unless the
// operator overrides the row by name, which is warned about; a version
// outside the window is refused and cannot be overridden.
func TestPreflightCompatibility(t *testing.T) {
	h := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	host := func(kernel string) *remotetest.FakeHost {
		return &remotetest.FakeHost{Host: "worker-1", Answers: []remotetest.Answer{
			{Match: "cat /etc/os-release", Stdout: "ID=centos\nVERSION_ID=7\n", Exit: 0}, {Match: "uname -r", Stdout: kernel, Exit: 0}, {Match: "nproc", Stdout: "2", Exit: 0},
			{Match: "MemTotal", Stdout: "4000000", Exit: 0}, {Match: "df -Pk", Stdout: "100000000", Exit: 0}, {Match: "/proc/swaps", Stdout: "0", Exit: 0},
			{Match: "stat -f -c %T /sys/fs/cgroup/", Stdout: "tmpfs", Exit: 0},
			{Match: "date +%s", Stdout: fmt.Sprint(time.Now().Unix()), Exit: 0}, {Match: "command -v", Stdout: "", Exit: 0}, {Match: "curl", Stdout: "200", Exit: 0},
		}}
	}
	for _, c := range []struct {
		name, version, kernel string
		allow                 []string
		want                  []string // in the error; none: passes
		warn                  string
	}{
		{"1.33 on kernel 3.10", "v1.33.6", "3.10.0-1160.el7.x86_64", nil,
			[]string{"kernel-kubeadm", `kernel "3.10.0-1160.el7.x86_64"`, "older than 4.19", "kernel of 4.19 or later"}, ""},
		{"1.33 on kernel 3.10, overridden", "v1.33.6", "3.10.0-1160.el7.x86_64", []string{"kernel-kubeadm"}, nil, "compatibility row kernel-kubeadm overridden"},
		{"1.33 on kernel 5.14", "v1.33.6", "5.14.0-362.el9.x86_64", nil, nil, ""},
		{"1.26 on kernel 3.10", "v1.26.15", "3.10.0-1160.el7.x86_64", nil, nil, ""},
		{"1.36", "v1.36.1", "5.14.0", []string{"kernel-kubeadm"}, []string{"kubernetes-window", "v1.26–v1.34"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := unitSite()
			site.AllowIncompatible = c.allow
			var warn bytes.Buffer
			site.Warn = &warn
			site.KubernetesVersion = c.version
			err := site.Check(context.Background(), &remote.Host{Runner: host(c.kernel), Host: h})
			if len(c.want) == 0 && err != nil {
				t.Fatalf("refused: %v", err)
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%v lacks %q", err, w)
				}
			}
			if c.warn != "" && !strings.Contains(warn.String(), c.warn) {
				t.Errorf("no warning %q in %q", c.warn, warn.String())
			}
		})
	}
}

// healthyHost answers every preflight check of a master as passing, with ss
// showing ss; more answers go first.
func healthyHost(ss string, more ...remotetest.Answer) *remotetest.FakeHost {
	return &remotetest.FakeHost{Host: "master-1", Answers: append(more,
		remotetest.Answer{Match: "cat /etc/os-release", Stdout: "ID=rocky\nVERSION_ID=8.9\n", Exit: 0}, remotetest.Answer{Match: "uname -r", Stdout: "4.18.0-513.el8.x86_64", Exit: 0},
		remotetest.Answer{Match: "nproc", Stdout: "4", Exit: 0}, remotetest.Answer{Match: "MemTotal", Stdout: "8000000", Exit: 0}, remotetest.Answer{Match: "df -Pk", Stdout: "100000000", Exit: 0},
		remotetest.Answer{Match: "/proc/swaps", Stdout: "0", Exit: 0}, remotetest.Answer{Match: "stat -f -c %T /sys/fs/cgroup/", Stdout: "tmpfs", Exit: 0},
		remotetest.Answer{Match: "date +%s", Stdout: fmt.Sprint(time.Now().Unix()), Exit: 0}, remotetest.Answer{Match: "ss -Hltnp", Stdout: ss, Exit: 0},
		remotetest.Answer{Match: "command -v", Stdout: "", Exit: 0}, remotetest.Answer{Match: "curl", Stdout: "200", Exit: 0})}
}

const haproxyOn6443 = `LISTEN 0 4096 10.9.0.11:6443 0.0.0.0:* users:(("haproxy",pid=812,fd=7))`

// TestPreflightNamesForeignHAProxy: without a VIP there is no /ha, so an
// haproxy on the apiserver port is not the deployment's: preflight names
// it with its pid, why it is not ours, and the command that stops it (both
// services when its configuration is one an earlier /ha wrote). With a VIP,
// the same haproxy on a master is /ha's own and passes.
func TestPreflightNamesForeignHAProxy(t *testing.T) {
	master := inventory.Host{Name: "master-1", Roles: []inventory.Role{inventory.RoleMaster}}
	oneMaster := func(*testing.T) *Site {
		site := unitSite()
		site.APIServer.VIP, site.HAHosts = "", nil
		return site
	}
	for _, c := range []struct {
		name  string
		site  func(*testing.T) *Site
		cg    string // /proc/PID/cgroup's answer
		wants []string
	}{
		{"left by /ha", oneMaster, "haproxy.service\nwritten-by-deploy\n",
			[]string{"TCP port 6443 is in use by haproxy (pid 812)", "no apiserver.vip, so there is no /ha phase",
				"earlier deployment's /ha", "systemctl disable --now haproxy keepalived"}},
		{"installed by hand", oneMaster, "haproxy.service\n",
			[]string{"TCP port 6443 is in use by haproxy (pid 812)", "no apiserver.vip, so there is no /ha phase",
				"stop it: systemctl disable --now haproxy,"}},
		{"no unit", oneMaster, "",
			[]string{"TCP port 6443 is in use by haproxy (pid 812)", "; stop it, the cluster's apiserver needs the port"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := c.site(t)
			host := healthyHost(haproxyOn6443, remotetest.Answer{Match: "/proc/812/cgroup", Stdout: c.cg, Exit: 0})
			err := site.Check(context.Background(), &remote.Host{Runner: host, Host: master})
			var pe *Error
			if !errors.As(err, &pe) || len(pe.Problems) != 1 {
				t.Fatalf("preflight = %v, want one problem", err)
			}
			for _, w := range c.wants {
				if !strings.Contains(pe.Problems[0], w) {
					t.Errorf("%q lacks %q", pe.Problems[0], w)
				}
			}
			// The commands that find the unit run on EL7 too.
			for _, cmd := range host.Commands {
				for _, p := range el7.Check(cmd) {
					t.Errorf("%s: %v", cmd, p)
				}
			}
		})
	}
	t.Run("ours with a VIP", func(t *testing.T) {
		site := unitSite()
		host := healthyHost(haproxyOn6443)
		if err := site.Check(context.Background(), &remote.Host{Runner: host, Host: master}); err != nil {
			t.Errorf("haproxy of /ha on a master with a VIP: %v", err)
		}
	})
	t.Run("another program", func(t *testing.T) {
		site := oneMaster(t)
		host := healthyHost(`LISTEN 0 128 0.0.0.0:2379 0.0.0.0:* users:(("etcd-old",pid=77,fd=3))`,
			remotetest.Answer{Match: "/proc/77/cgroup", Stdout: "etcd-old.service\n", Exit: 0})
		err := site.Check(context.Background(), &remote.Host{Runner: host, Host: master})
		if err == nil || !strings.Contains(err.Error(), "TCP port 2379 is in use by etcd-old (pid 77); stop it: systemctl disable --now etcd-old, the cluster needs the port") {
			t.Errorf("preflight = %v", err)
		}
	})
}

// TestListeners: ss's process and pid per port, every listener of a port.
func TestListeners(t *testing.T) {
	ss := `LISTEN 0 4096 10.9.0.11:6443 0.0.0.0:* users:(("kube-apiserver",pid=901,fd=7))
LISTEN 0 4096 10.9.0.100:6443 0.0.0.0:* users:(("haproxy",pid=812,fd=7),("haproxy",pid=813,fd=7))
LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*
`
	got := listeners(ss)
	if l := got[6443]; len(l) != 2 || l[0] != (listener{"kube-apiserver", 901}) || l[1] != (listener{"haproxy", 812}) {
		t.Errorf("6443: %+v", l)
	}
	if l := got[2379]; len(l) != 1 || l[0] != (listener{}) {
		t.Errorf("2379: %+v", l)
	}
}

// TestDebianRefusalSuggestsTestMode: a Debian host is refused; when it
// carries the test-site marker, the refusal names --test-site-hosts.
func TestDebianRefusalSuggestsTestMode(t *testing.T) {
	site := unitSite()
	worker := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	for _, marked := range []bool{true, false} {
		marker := ""
		if marked {
			marker = "marked"
		}
		host := healthyHost("", remotetest.Answer{Match: "cat /etc/os-release", Stdout: "ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", Exit: 0},
			remotetest.Answer{Match: "test -e " + testHostMarker, Stdout: marker, Exit: 0})
		err := site.Check(context.Background(), &remote.Host{Runner: host, Host: worker})
		if err == nil || !strings.Contains(err.Error(), "is not supported") {
			t.Fatalf("marked %v: preflight = %v, want Debian refused", marked, err)
		}
		if got := strings.Contains(err.Error(), "run deploy with --test-site-hosts"); got != marked {
			t.Errorf("marked %v: the refusal suggests --test-site-hosts: %v\n%v", marked, got, err)
		}
		for _, cmd := range host.Commands {
			for _, p := range el7.Check(cmd) {
				t.Errorf("%s: %v", cmd, p)
			}
		}
	}
}

// TestPreflightNamesARefusedHost: a host the seed refuses (it connects
// from an address not in the inventory) is told which address to allow.
func TestPreflightNamesARefusedHost(t *testing.T) {
	site := unitSite()
	h := inventory.Host{Name: "worker-1", Address: "10.9.0.21", Roles: []inventory.Role{inventory.RoleWorker}}
	host := &remotetest.FakeHost{Host: "worker-1", Answers: []remotetest.Answer{
		{Match: "cat /etc/os-release", Stdout: "ID=rocky\nVERSION_ID=8.9\nPRETTY_NAME=\"Rocky Linux 8.9\"\n", Exit: 0}, {Match: "uname -r", Stdout: "4.18.0-513.el8.x86_64", Exit: 0},
		{Match: "nproc", Stdout: "2", Exit: 0}, {Match: "MemTotal", Stdout: "4000000", Exit: 0}, {Match: "df -Pk", Stdout: "100000000", Exit: 0}, {Match: "/proc/swaps", Stdout: "0", Exit: 0},
		{Match: "date +%s", Stdout: fmt.Sprint(time.Now().Unix()), Exit: 0}, {Match: "command -v", Stdout: "", Exit: 0}, {Match: "curl", Stdout: "403 10.9.5.21", Exit: 0},
	}}
	err := site.Check(context.Background(), &remote.Host{Runner: host, Host: h})
	if err == nil || !strings.Contains(err.Error(), "connects from 10.9.5.21, not its inventory address 10.9.0.21") ||
		!strings.Contains(err.Error(), "--seed-allow 10.9.5.21") {
		t.Errorf("preflight of a refused host: %v", err)
	}
}
func TestParseOSRelease(t *testing.T) {
	for _, c := range []struct {
		name, text string
		ok         bool
	}{
		{"centos 7", "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n", true},
		{"rhel 8.9", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.9\"\n", true},
		{"rocky 9.3", "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n", true},
		{"alma 8.10 unquoted", "ID=almalinux\nVERSION_ID=8.10\n", true},
		{"centos stream 9", "ID=\"centos\"\nVERSION_ID=\"9\"\n", true},
		{"centos 6", "ID=\"centos\"\nVERSION_ID=\"6\"\n", false},
		{"rocky 7 does not exist", "ID=rocky\nVERSION_ID=7\n", false},
		{"rhel 10", "ID=rhel\nVERSION_ID=10.0\n", false},
		{"debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n", false},
		{"ubuntu", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n", false},
		{"fedora", "ID=fedora\nVERSION_ID=39\n", false},
		{"empty", "", false},
		{"comments and single quotes", "# comment\nID='rocky'\nVERSION_ID='8.9'\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ParseOSRelease(c.text).CheckSupported()
			if (err == nil) != c.ok {
				t.Errorf("CheckSupported() = %v, want ok=%v", err, c.ok)
			}
		})
	}
	marker := "APPLIANCE_TEST_HOST=1\nNAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"8.9\"\n"
	if o := ParseOSRelease(marker); !o.TestHost || o.CheckSupported() != nil {
		t.Errorf("test-host marker parsed as %+v", o)
	}
	if ParseOSRelease("ID=rocky\nVERSION_ID=8\n").TestHost {
		t.Error("a plain os-release is taken for a test host")
	}
}

func TestListeningPorts(t *testing.T) {
	ss := `LISTEN 0      4096      10.9.0.100:6443       0.0.0.0:*    users:(("haproxy",pid=812,fd=7))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=90,fd=3))
LISTEN 0      4096       127.0.0.1:2379       0.0.0.0:*
LISTEN 0      4096            [::]:10250         [::]:*    users:(("kubelet",pid=1,fd=20))
`
	got := ListeningPorts(ss)
	want := map[int]string{6443: "haproxy", 22: "sshd", 2379: "", 10250: "kubelet"}
	if len(got) != len(want) {
		t.Fatalf("ListeningPorts = %v, want %v", got, want)
	}
	for p, proc := range want {
		if got[p] != proc {
			t.Errorf("port %d: %q, want %q", p, got[p], proc)
		}
	}
}

func TestRequirementFoldsRoles(t *testing.T) {
	r := requirement(inventory.Host{Roles: []inventory.Role{inventory.RoleWorker, inventory.RoleRegistry}})
	if r.CPUs != 2 || r.MemoryMB != 3800 || r.DiskGB != 40 {
		t.Errorf("worker+registry needs %+v", r)
	}
	if !slices.Contains(r.Ports, 10250) || !slices.Contains(r.Ports, 443) {
		t.Errorf("worker+registry ports %v", r.Ports)
	}
}
