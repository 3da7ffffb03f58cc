package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

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
	oneMaster := func(t *testing.T) *Deployment {
		s := newTestSite(t, fixtureRoles)
		s.inv.APIServer.VIP = ""
		s.inv.Hosts[1].Roles = []inventory.Role{inventory.RoleWorker}
		return s.open(t, t.TempDir())
	}
	for _, c := range []struct {
		name  string
		d     func(*testing.T) *Deployment
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
			d := c.d(t)
			host := healthyHost(haproxyOn6443, remotetest.Answer{Match: "/proc/812/cgroup", Stdout: c.cg, Exit: 0})
			err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: master})
			var pe *PreflightError
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
		d := newTestSite(t, fixtureRoles).open(t, t.TempDir())
		host := healthyHost(haproxyOn6443)
		if err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: master}); err != nil {
			t.Errorf("haproxy of /ha on a master with a VIP: %v", err)
		}
	})
	t.Run("another program", func(t *testing.T) {
		d := oneMaster(t)
		host := healthyHost(`LISTEN 0 128 0.0.0.0:2379 0.0.0.0:* users:(("etcd-old",pid=77,fd=3))`,
			remotetest.Answer{Match: "/proc/77/cgroup", Stdout: "etcd-old.service\n", Exit: 0})
		err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: master})
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
	d := newTestSite(t, fixtureRoles).open(t, t.TempDir())
	worker := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	for _, marked := range []bool{true, false} {
		marker := ""
		if marked {
			marker = "marked"
		}
		host := healthyHost("", remotetest.Answer{Match: "cat /etc/os-release", Stdout: "ID=debian\nVERSION_ID=12\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n", Exit: 0},
			remotetest.Answer{Match: "test -e " + testHostMarker, Stdout: marker, Exit: 0})
		err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: worker})
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
