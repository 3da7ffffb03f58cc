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
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// TestPreflightReportsEveryProblem: one run reports every failed check of a
// host, not only the first.
func TestPreflightReportsEveryProblem(t *testing.T) {
	s := newTestSite(t, fixtureRoles)
	d := s.open(t, t.TempDir())
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
	err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: master})
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
	if len(host.Uploads) != 1 || host.Uploads[0] != preflightCA {
		t.Errorf("preflight uploaded %v, want only the CA to %s", host.Uploads, preflightCA)
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
		host := &remotetest.FakeHost{Host: "worker-1", Answers: []remotetest.Answer{
			{Match: "cat " + testHostMarker, Stdout: c.marker, Exit: 0}, {Match: "uname -r", Stdout: "6.1.0-18-amd64", Exit: 0}, {Match: "nproc", Stdout: "2", Exit: 0},
			{Match: "MemTotal", Stdout: "4000000", Exit: 0}, {Match: "df -Pk", Stdout: "100000000", Exit: 0}, {Match: "/proc/swaps", Stdout: "0", Exit: 0},
			{Match: "date +%s", Stdout: fmt.Sprint(time.Now().Unix()), Exit: 0}, {Match: "command -v", Stdout: "", Exit: 0}, {Match: "curl", Stdout: "200", Exit: 0},
		}}
		err := d.preflight(context.Background(), &remote.Host{Runner: host, Host: h})
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
			err = d.preflight(context.Background(), &remote.Host{Runner: host(c.kernel), Host: h})
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
