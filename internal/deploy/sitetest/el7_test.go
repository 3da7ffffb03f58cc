//go:build site

package sitetest

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// checkEL7Logs sends every command the deployment sent to a host through
// the EL7 table (internal/el7), as the unit tests do with their dry runs:
// the "$ " lines of each host log (remote.LoggedCommands), and the "$ "
// entries of each host's SSH log, which also hold the transport's own
// commands (the cat, sha256sum, chmod and mv of every upload). The Debian
// hosts ran them all; this fails on any that CentOS 7.9 could not.
func checkEL7Logs(t *testing.T, d *deployer) {
	t.Helper()
	dir := filepath.Join(d.state, plan.LogsDir)
	// The day-two operations' host logs too (STATE/ops/NAME/logs).
	dirs, _ := filepath.Glob(filepath.Join(d.state, "ops", "*", plan.LogsDir))
	seen := map[string]string{} // command -> the log it was first seen in
	for _, dir := range append([]string{dir}, dirs...) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			name := e.Name()
			var cmds []string
			switch {
			case name == "deploy-node.log":
				continue
			case strings.HasSuffix(name, ".ssh.log"):
				cmds = sshLogCommands(string(mustRead(t, filepath.Join(dir, name))))
			case strings.HasSuffix(name, ".log"):
				cmds = remote.LoggedCommands(string(mustRead(t, filepath.Join(dir, name))))
			}
			for _, c := range cmds {
				if _, ok := seen[c]; !ok {
					seen[c] = filepath.Join(filepath.Base(filepath.Dir(dir)), name)
				}
			}
		}
	}
	cmds := make([]string, 0, len(seen))
	for c := range seen {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	for _, c := range cmds {
		for _, p := range el7.Check(c) {
			t.Errorf("%s: not for EL7: %v", seen[c], p)
		}
	}
	if len(cmds) < 20 {
		t.Errorf("the logs in %s record only %d distinct commands; has their format changed?", dir, len(cmds))
	}
	t.Logf("checked %d distinct commands from the host and SSH logs against the EL7 table", len(cmds))
}

// sshLogEntry is a line of an SSH log: "TIME [host] message" (sshx's logf).
var sshLogEntry = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[[^\]]*\] (.*)$`)

// sshLogCommands returns the commands of an SSH log's "$ CMD" entries; a
// line without a time stamp continues the entry before it.
func sshLogCommands(log string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		m := sshLogEntry.FindStringSubmatch(line)
		switch {
		case m != nil && strings.HasPrefix(m[1], "$ "):
			out = append(out, m[1][2:])
			in = true
		case m != nil:
			in = false
		case in:
			out[len(out)-1] += "\n" + line
		}
	}
	return out
}
