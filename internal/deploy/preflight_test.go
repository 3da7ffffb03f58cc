package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// TestPreflightReportsEveryProblem: one run reports every failed check of a
// host, not only the first.
func TestPreflightReportsEveryProblem(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
	master := inventory.Host{Name: "master-1", Roles: []inventory.Role{inventory.RoleMaster}}
	skewed := fmt.Sprint(time.Now().Add(-5 * time.Minute).Unix())
	host := &fakeHost{name: "master-1", answers: []answer{
		{"cat /etc/os-release", "ID=centos\nVERSION_ID=6\nPRETTY_NAME=\"CentOS release 6.10\"\n", 0},
		{"uname -r", "2.6.32-754.el6.x86_64", 0},
		{"nproc", "1", 0},
		{"MemTotal", "1000000", 0},
		{"df -Pk /var", "1048576", 0},
		{"/proc/swaps", "0", 0},
		{"getenforce", "Disabled", 0},
		{"firewalld", "active", 0},
		{"date +%s", skewed, 0},
		{"ss -Hltnp", `LISTEN 0 128 0.0.0.0:2379 0.0.0.0:* users:(("etcd-old",pid=1,fd=3))` + "\n" +
			`LISTEN 0 128 10.9.0.100:6443 0.0.0.0:* users:(("haproxy",pid=2,fd=3))`, 0},
		{"command -v", "update-ca-trust\nss", 0},
		{"curl", "", 7},
	}}
	err := d.preflight(context.Background(), &remote{Runner: host, host: master})
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight = %v, want a *PreflightError", err)
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
	if len(host.uploads) != 1 || host.uploads[0] != preflightCA {
		t.Errorf("preflight uploaded %v, want only the CA to %s", host.uploads, preflightCA)
	}
}

// TestPreflightTestMode: with TestSiteHosts the marker file is read, and a
// host without the marker is refused even if it claims EL.
func TestPreflightTestMode(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	cfg := s.config(t.TempDir())
	cfg.TestSiteHosts = true
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	for _, c := range []struct {
		marker string
		want   string
	}{
		{"APPLIANCE_TEST_HOST=1\nID=rocky\nVERSION_ID=8.9\n", ""},
		{"ID=rocky\nVERSION_ID=8.9\n", "does not mark a test-site host"},
	} {
		host := &fakeHost{name: "worker-1", answers: []answer{
			{"cat " + testHostMarker, c.marker, 0}, {"uname -r", "6.1.0-18-amd64", 0}, {"nproc", "2", 0},
			{"MemTotal", "4000000", 0}, {"df -Pk", "100000000", 0}, {"/proc/swaps", "0", 0},
			{"date +%s", fmt.Sprint(time.Now().Unix()), 0}, {"command -v", "", 0}, {"curl", "200", 0},
		}}
		err := d.preflight(context.Background(), &remote{Runner: host, host: h})
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
	s := newTestSite(t, fixtureRoles)
	h := inventory.Host{Name: "worker-1", Roles: []inventory.Role{inventory.RoleWorker}}
	host := func(kernel string) *fakeHost {
		return &fakeHost{name: "worker-1", answers: []answer{
			{"cat /etc/os-release", "ID=centos\nVERSION_ID=7\n", 0}, {"uname -r", kernel, 0}, {"nproc", "2", 0},
			{"MemTotal", "4000000", 0}, {"df -Pk", "100000000", 0}, {"/proc/swaps", "0", 0},
			{"stat -f -c %T /sys/fs/cgroup/", "tmpfs", 0},
			{"date +%s", fmt.Sprint(time.Now().Unix()), 0}, {"command -v", "", 0}, {"curl", "200", 0},
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
			cfg := s.config(t.TempDir())
			cfg.AllowIncompatible = c.allow
			var warn bytes.Buffer
			cfg.Warn = &warn
			d, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			d.k8sVersion = c.version
			err = d.preflight(context.Background(), &remote{Runner: host(c.kernel), host: h})
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
