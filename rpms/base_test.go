package rpms

import (
	"strings"
	"testing"
)

func TestCentOS7MinimalList(t *testing.T) {
	b, err := LoadBase("centos7-minimal.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bash", "glibc", "systemd", "openssh-server", "yum", "kernel"} {
		if !b.Has(name) {
			t.Errorf("centos7-minimal.txt lacks %s", name)
		}
	}
	if b.Len() < 250 {
		t.Errorf("only %d packages", b.Len())
	}
	for _, name := range []string{"conntrack-tools", "socat", "haproxy", "keepalived"} {
		if b.Has(name) {
			t.Errorf("%s is not part of a minimal install", name)
		}
	}
}

func TestParseBase(t *testing.T) {
	b, err := ParseBase(strings.NewReader("# comment\nbash\n\n  glibc  # trailing\n"))
	if err != nil || b.Len() != 2 || !b.Has("glibc") {
		t.Fatalf("ParseBase: %v %v", b, err)
	}
	if _, err := ParseBase(strings.NewReader("two names\n")); err == nil {
		t.Error("accepted a line with two names")
	}
}
