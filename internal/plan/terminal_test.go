package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostile is what a host's stderr or a cluster's event message may hold:
// clear the screen, set the window title, an 8-bit CSI, reversed text.
const hostile = "dnf failed\x1b[2J\x1b]0;pwn\x07 \u009b31m \u202eevil\rgone"

// onTerminal reports a character a terminal would act on.
func onTerminal(s string) bool {
	return strings.ContainsAny(s, "\x1b\x07\r\u009b\u202e")
}

// TestTerminalEscapes: a phase error holding terminal escapes (issue 18)
// reaches the live console, deploy plan's table and the dry run escaped,
// while the journal, the host log and the JSON keep it exactly.
func TestTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	p, err := New(
		&Phase{ID: "/packages/m1", Title: "Packages", Host: "m1", Run: func(ctx context.Context) error {
			Logf(ctx, "host said: %s", hostile)
			return errors.New(hostile)
		}, DryRun: func() []string { return []string{"install " + hostile} }},
	)
	if err != nil {
		t.Fatal(err)
	}
	e, console := newExec(t, p, dir)
	_ = e.Run(context.Background())
	e.Close()
	if onTerminal(console.String()) || !strings.Contains(console.String(), `\x1b[2J\x1b]0;pwn\x07`) {
		t.Errorf("the console got the escapes raw:\n%q", console.String())
	}
	log, _ := os.ReadFile(filepath.Join(dir, LogsDir, "m1.log"))
	if !strings.Contains(string(log), hostile) {
		t.Errorf("the host log does not keep the host's output exactly:\n%q", log)
	}
	st, err := LoadStatus(dir)
	if err != nil || st["/packages/m1"].Error != hostile {
		t.Fatalf("the journal does not keep the error exactly: %q, %v", st["/packages/m1"].Error, err)
	}

	var b bytes.Buffer
	if err := p.Render(&b, st); err != nil {
		t.Fatal(err)
	}
	if onTerminal(b.String()) || !strings.Contains(b.String(), `\u009b31m \u202eevil\rgone`) {
		t.Errorf("deploy plan printed the escapes raw:\n%q", b.String())
	}
	b.Reset()
	if err := p.RenderJSON(&b, st); err != nil {
		t.Fatal(err)
	}
	var views []PhaseView
	if err := json.Unmarshal(b.Bytes(), &views); err != nil || views[0].Error != hostile {
		t.Errorf("deploy plan --json changed the error: %q, %v", views[0].Error, err)
	}
	if onTerminal(b.String()) {
		t.Errorf("deploy plan --json holds raw escapes:\n%q", b.String())
	}
	b.Reset()
	if err := p.WriteDryRun(&b, nil); err != nil {
		t.Fatal(err)
	}
	if onTerminal(b.String()) {
		t.Errorf("the dry run printed the escapes raw:\n%q", b.String())
	}
}
