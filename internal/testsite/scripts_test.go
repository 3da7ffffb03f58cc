package testsite

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bashLib runs script with scripts/site/lib.sh sourced, stdin as input and
// args as $1..., and returns its stdout and whether it exited 0.
func bashLib(t *testing.T, script, stdin string, args ...string) (string, bool) {
	t.Helper()
	dir, err := scriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"-c", ". \"$0\" && " + script, filepath.Join(dir, "lib.sh")}, args...)
	cmd := exec.Command("bash", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("bash (Debian package bash): %v", err)
	}
	return string(out), err == nil
}

func TestMirrorFromDeb822(t *testing.T) {
	tests := []struct {
		name, sources, want string
	}{
		{"first stanza for the suite",
			"Types: deb\nURIs: http://m.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n", "http://m.test/debian"},
		{"security stanza skipped",
			"Types: deb\nURIs: http://s.test/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://m.test/debian\nSuites: bookworm\n", "http://m.test/debian"},
		{"deb-src only skipped",
			"Types: deb-src\nURIs: http://src.test/debian\nSuites: bookworm\n\nTypes: deb deb-src\nURIs: http://m.test/debian\nSuites: bookworm\n", "http://m.test/debian"},
		{"disabled stanza skipped",
			"Types: deb\nURIs: http://off.test/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb\nURIs: http://m.test/debian\nSuites: bookworm\n", "http://m.test/debian"},
		{"comments ignored",
			"# Types: deb\n# URIs: http://c.test/\nTypes: deb\nURIs: http://m.test/debian\nSuites: bookworm\n", "http://m.test/debian"},
		{"other suite only", "Types: deb\nURIs: http://m.test/debian\nSuites: trixie\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := bashLib(t, "site::mirror_from_deb822 bookworm", tt.sources)
			if strings.TrimSpace(got) != tt.want {
				t.Errorf("mirror = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMirrorFromList(t *testing.T) {
	tests := []struct {
		name, list, want string
	}{
		{"plain", "deb http://m.test/debian bookworm main\n", "http://m.test/debian"},
		{"options", "deb [arch=amd64 signed-by=/k.gpg] http://m.test/debian bookworm main\n", "http://m.test/debian"},
		{"updates and src skipped",
			"deb-src http://src.test/debian bookworm main\ndeb http://u.test/debian bookworm-updates main\ndeb http://m.test/debian bookworm main\n", "http://m.test/debian"},
		{"commented", "# deb http://c.test/debian bookworm main\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := bashLib(t, "site::mirror_from_list bookworm", tt.list)
			if strings.TrimSpace(got) != tt.want {
				t.Errorf("mirror = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"10.210.5.0/24", "10.210.5.0/24", true},
		{"10.210.5.0/24", "10.210.6.0/24", false},
		{"10.210.5.0/24", "10.0.0.0/8", true},
		{"10.210.5.0/24", "10.210.5.77", true},
		{"10.210.5.0/24", "172.17.0.0/16", false},
		{"10.210.5.0/24", "10.208.0.0/14", true},
		{"10.210.5.0/24", "10.212.0.0/14", false},
	}
	for _, tt := range tests {
		_, got := bashLib(t, "site::overlaps "+tt.a+" "+tt.b, "")
		if got != tt.want {
			t.Errorf("overlaps %s %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"demo", true},
		{"site-test-2", true},
		{"0a", true},
		{"", false},
		{"-lead", false},
		{"Upper", false},
		{"under_score", false},
		{"a23456789012345678901234567890123", false},
		{"semi;colon", false},
	}
	for _, tt := range tests {
		out, ok := bashLib(t, `(site::validate_name "$1") 2>/dev/null && echo valid`, "", tt.name)
		if got := strings.TrimSpace(out) == "valid" && ok; got != tt.ok {
			t.Errorf("validate_name %q = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// TestPackagesNormalized checks that the image's cache key ignores comments
// and order in packages.txt, and that the list holds what the site needs.
func TestPackagesNormalized(t *testing.T) {
	out, ok := bashLib(t, "site::packages", "")
	if !ok {
		t.Fatal("site::packages failed")
	}
	pkgs := strings.Fields(out)
	seen := map[string]bool{}
	for i, p := range pkgs {
		if strings.ContainsAny(p, "#") || (i > 0 && pkgs[i-1] >= p) {
			t.Errorf("site::packages is not a sorted, comment-free list: %q", pkgs)
			break
		}
		seen[p] = true
	}
	for _, need := range []string{"openssh-server", "rpm", "dnf", "haproxy", "keepalived", "containerd", "runc", "chrony", "systemd",
		"conntrack", "iproute2", "iptables", "mount"} { // the last four: kubeadm 1.26's preflight
		if !seen[need] {
			t.Errorf("packages.txt lacks %s", need)
		}
	}
}
