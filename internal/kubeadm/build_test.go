package kubeadm

import (
	"strings"
	"testing"
)

func TestPreflightIgnores(t *testing.T) {
	for _, c := range []struct {
		kubeadm, goVersion string
		ignore             bool
	}{
		{"v1.26.15", "go1.26.8", true},   // the test site's build
		{"v1.26.15", "go1.21.13", false}, // upstream's release binary
		{"v1.30.14", "go1.24.8", true},
		{"v1.30.14", "go1.24.7", false},
		{"v1.29.3", "go1.25.1", false},
		{"v1.29.3", "go1.25.2", true},
		{"v1.31.0", "go1.26.8", true},
		{"v1.31.14", "go1.26.8", false}, // fixed upstream (net.JoinHostPort)
		{"v1.33.6", "go1.26.8", false},
		{"v1.33.5", "go1.26.8", true},
		{"v1.34.0", "go1.25.2", true},
		{"v1.34.4", "go1.26.8", false},
		{"v1.26.15", "go1.26rc1", true},
		{"v1.26.15", "go1.24.8 X:boringcrypto", true},
		{"v1.26.15", "devel", false},
		{"v1.26.15", "", false},
	} {
		v, _ := ParseVersion(c.kubeadm)
		r, err := ForVersion(c.kubeadm)
		if err != nil {
			t.Fatal(err)
		}
		got := r.PreflightIgnores(Build{Version: v, GoVersion: c.goVersion})
		if (len(got) == 1 && got[0] == CheckHTTPProxyCIDR) != c.ignore || len(got) > 1 {
			t.Errorf("kubeadm %s built with %q: ignores %v, want HTTPProxyCIDR %v", c.kubeadm, c.goVersion, got, c.ignore)
		}
	}
}

func TestParseBuild(t *testing.T) {
	out := `{
  "clientVersion": {
    "major": "1",
    "minor": "26",
    "gitVersion": "v1.26.15",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "1970-01-01T00:00:00Z",
    "goVersion": "go1.26.8",
    "compiler": "gc",
    "platform": "linux/amd64"
  }
}`
	b, err := ParseBuild([]byte(out))
	if err != nil || b.Version != (Version{1, 26, 15}) || b.GoVersion != "go1.26.8" {
		t.Fatalf("%+v %v", b, err)
	}
	c, _ := testCluster("v1.26.15")
	if err := CheckBuild(c, b, "master-1"); err != nil {
		t.Error(err)
	}
	c.Version = "v1.34.4"
	if err := CheckBuild(c, b, "master-1"); err == nil || !strings.Contains(err.Error(), "kubeadm on master-1 is v1.26.15") || !strings.Contains(err.Error(), "RPMs of v1.34.4") {
		t.Errorf("a kubeadm of another version: %v", err)
	}
	for name, bad := range map[string]string{
		"not JSON":   "kubeadm version: v1.26.15",
		"no version": `{"clientVersion": {"goVersion": "go1.26.8"}}`,
		"too long":   `{"clientVersion": {"gitVersion": "v1.26.15", "goVersion": "` + strings.Repeat("x", MaxVersionOutput) + `"}}`,
	} {
		if _, err := ParseBuild([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// TestCheckUpgrade: kubeadm's rule, one minor at a time and never down,
// with the minor to go to first named.
func TestCheckUpgrade(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"v1.26.14", "v1.26.15", ""},
		{"v1.26.15", "v1.26.15", ""},
		{"v1.26.15", "v1.27.3", ""},
		{"v1.26.15", "v1.28.1", "a bundle of Kubernetes v1.27 first"},
		{"v1.27.3", "v1.26.15", "does not downgrade"},
		{"v1.26.15", "v1.26.14", "does not downgrade"},
		{"v1.26.15", "v1.35.0", "v1.26–v1.34"},
		{"v1.26.15", "2.0.0", "deploy supports"},
		{"v1.26", "v1.26.15", "the cluster's version"},
	} {
		err := CheckUpgrade(c.from, c.to)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s → %s: %v", c.from, c.to, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s → %s: %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

// TestUpgradeCommand: kubeadm upgrade runs under the node's lock, once per
// version (its mark), only with the kubeadm of that version, and a master
// keeps its static-pod patches.
func TestUpgradeCommand(t *testing.T) {
	first := UpgradeCommand("v1.26.15", true, true)
	for _, w := range []string{"flock 9", "[ -f '" + UpgradedPath + "-v1.26.15' ] && exit 0", `[ "$have" != 'v1.26.15' ]`,
		"kubeadm upgrade plan 'v1.26.15' && kubeadm upgrade apply 'v1.26.15' --yes --patches " + PatchesDir, "touch '" + UpgradedPath + "-v1.26.15'"} {
		if !strings.Contains(first, w) {
			t.Errorf("first master's command lacks %q:\n%s", w, first)
		}
	}
	if m := UpgradeCommand("v1.26.15", false, true); !strings.Contains(m, "kubeadm upgrade node --patches "+PatchesDir) || strings.Contains(m, "apply") {
		t.Errorf("another master: %s", m)
	}
	if w := UpgradeCommand("v1.26.15", false, false); !strings.Contains(w, "kubeadm upgrade node &&") {
		t.Errorf("a worker: %s", w)
	}
}

func TestClusterConfigVersion(t *testing.T) {
	if v, err := ClusterConfigVersion("apiServer: {}\nkubernetesVersion: v1.26.14\nnetworking: {}\n"); err != nil || v != "v1.26.14" {
		t.Errorf("= %q, %v", v, err)
	}
	if _, err := ClusterConfigVersion("kubernetesVersion: latest\n"); err == nil {
		t.Error("kubernetesVersion latest: no error")
	}
	if _, err := ClusterConfigVersion("apiServer: {}\n"); err == nil || !strings.Contains(err.Error(), "no kubernetesVersion") {
		t.Errorf("none: %v", err)
	}
}
