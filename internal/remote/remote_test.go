package remote

import (
	"context"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// TestEL7CheckSeesAKnownBadCommand: the gathering above feeds the checker
// the commands as sent; a command EL7 cannot run, gathered the same way,
// must fail it (the old chrony lookup, with systemd 230's --value).
func TestEL7CheckSeesAKnownBadCommand(t *testing.T) {
	host := &remotetest.FakeHost{Host: "h"}
	h := &Host{Runner: host, Host: inventory.Host{Name: "h"}}
	if _, err := h.Out(context.Background(), "systemctl show -p Id --value chronyd.service"); err != nil {
		t.Fatal(err)
	}
	var problems []el7.Problem
	for _, c := range host.Commands {
		problems = append(problems, el7.Check(c)...)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "--value") {
		t.Errorf("problems %v, want one about --value", problems)
	}
}

// TestLoggedCommands: what logCommand writes to a host log, LoggedCommands
// reads back whole, multi-line scripts too, among output lines.
func TestLoggedCommands(t *testing.T) {
	var b strings.Builder
	cmds := []string{"uname -r", "set -e\ninstall -d /opt/x\necho done", "cat /etc/hosts # copied"}
	for _, c := range cmds {
		LogCommand(&b, c)
		b.WriteString("some output\n$not a command\n")
	}
	got := LoggedCommands(b.String())
	if strings.Join(got, "|") != strings.Join(cmds, "|") {
		t.Errorf("LoggedCommands = %q, want %q", got, cmds)
	}
}

// TestInstallAndServiceQuote: the file and unit names install and service
// put in commands are quoted, and the test command gets the staged file
// quoted.
func TestInstallAndServiceQuote(t *testing.T) {
	host := &remotetest.FakeHost{Host: "h"}
	h := &Host{Runner: host, Host: inventory.Host{Name: "h"}}
	ctx := context.Background()
	if _, err := h.Install(ctx, "/etc/a b/c;d", []byte("x"), 0o644, "check -f %s"); err != nil {
		t.Fatal(err)
	}
	if err := h.Service(ctx, "u$(id)", true); err != nil {
		t.Fatal(err)
	}
	cmds := strings.Join(host.Commands, "\n")
	for _, want := range []string{
		"check -f '/etc/a b/c;d.appliance-new'",
		"cmp -s -- '/etc/a b/c;d.appliance-new' '/etc/a b/c;d'",
		"systemctl enable 'u$(id)' && systemctl restart 'u$(id)' && systemctl is-active 'u$(id)'",
	} {
		if !strings.Contains(cmds, want) {
			t.Errorf("the commands lack %q:\n%s", want, cmds)
		}
	}
}
