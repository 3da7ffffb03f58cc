package names

import (
	"errors"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, `"abc"`},
		{"abcd", 3, `"abc"... (4 bytes)`},
		{"aé", 2, `"a"... (3 bytes)`}, // never cuts inside a character
		{"a\nb", 10, `"a\nb"`},
	} {
		if got := Quote(c.in, c.max); got != c.want {
			t.Errorf("Quote(%q, %d) = %s, want %s", c.in, c.max, got, c.want)
		}
	}
}

// TestNameError: the error names the field, the value quoted and cut, where
// it was found, what is allowed and why, and wraps ErrUnsafeName.
func TestNameError(t *testing.T) {
	err := CheckImageRefField("images[0].ref", "a$(id).io/x:1;"+strings.Repeat("A", 200))
	var ne *NameError
	if !errors.As(err, &ne) || !errors.Is(err, ErrUnsafeName) {
		t.Fatalf("CheckImageRefField = %v, want a *NameError wrapping ErrUnsafeName", err)
	}
	for _, want := range []string{`images[0].ref "a$(id).io/x:1;AAA`, "... (214 bytes)", "an image reference", "shell commands", "bundle build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	err = &NameError{Field: "releases[0].namespace", Value: "a/b", Where: `component "x"`, Want: DNSLabelChars, Why: ClusterWhy}
	if want := `releases[0].namespace "a/b" (in component "x") is refused: it must be ` + DNSLabelChars + ", since " + ClusterWhy; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start with %q", err, want)
	}
	if CheckImageRef("registry.k8s.io/pause:3.9") != nil {
		t.Error("a good image reference was refused")
	}
}

// TestValid: each character set takes real names and refuses a shell
// metacharacter.
func TestValid(t *testing.T) {
	for _, c := range []struct {
		name      string
		valid     func(string) bool
		good, bad string
	}{
		{"repo id", ValidRepoID, "el9:baseos_2.x", "x; touch"},
		{"key name", ValidKeyName, "RPM-GPG-KEY-CentOS-7", "k`id`"},
		{"rpm file", ValidRPMFile, "bar-1.0^20230101git3a2b-1.fc38.x86_64.rpm", "a;reboot-1.0-1.x86_64.rpm"},
		{"rpm name", ValidRPMName, "libstdc++", "x;touch"},
		{"role", ValidRole, "master", "ma$ter"},
		{"label", ValidLabel, "3.4.1+build.7", "1.0 gpgcheck=0"},
		{"dns label", ValidDNSLabel, "kube-system", "Network!"},
		{"namespace", ValidNamespace, "storage", "kube-system/x"},
		{"release name", ValidReleaseName, strings.Repeat("a", MaxReleaseNameLen), strings.Repeat("a", MaxReleaseNameLen+1)},
	} {
		if !c.valid(c.good) {
			t.Errorf("%s %q refused", c.name, c.good)
		}
		if c.valid(c.bad) {
			t.Errorf("%s %q accepted", c.name, c.bad)
		}
	}
}
