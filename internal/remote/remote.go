// Package remote is one host as a deployment's host phase sees it: an
// sshx.Runner (an SSH client for the real run, an sshx.Recorder for
// --dry-run), the host's inventory entry, and whether this is a dry run.
// It owns the few ways a phase acts on a host: run a command (Sh, Out),
// place a file (Put), replace a configuration only when it changed and
// passes its test (Install), and start a service (Service); every command
// is written to the host log (plan.LogWriter) as LoggedCommands reads it
// back. The steps in internal/kubeadm/steps, internal/preflight,
// internal/harbor/install and internal/hostsetup take a *Host, so the same
// code runs for real and for the dry run.
package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Host is one host as a phase sees it: the runner, the inventory entry,
// and whether this is a dry run (output is then empty, and checks that
// read output are skipped).
type Host struct {
	sshx.Runner
	Host inventory.Host
	Dry  bool
}

// Sh runs a command, logging it and its output to the host log; a non-zero
// exit is an error carrying the tail of the output.
func (h *Host) Sh(ctx context.Context, cmd string) error {
	w := plan.LogWriter(ctx)
	LogCommand(w, cmd)
	_, err := h.Stream(ctx, cmd, w)
	return err
}

// LogCommand writes cmd to a host log as a shell shows what it reads: "$ "
// before its first line, "> " before each further one (LoggedCommands
// reads them back).
func LogCommand(w io.Writer, cmd string) {
	fmt.Fprintf(w, "$ %s\n", strings.ReplaceAll(cmd, "\n", "\n> "))
}

// LoggedCommands returns the commands a host log records (see LogCommand),
// in order; the other lines are output and progress.
func LoggedCommands(log string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			out = append(out, line[2:])
			in = true
		case in && strings.HasPrefix(line, "> "):
			out[len(out)-1] += "\n" + line[2:]
		default:
			in = false
		}
	}
	return out
}

// Out runs a command and returns its trimmed stdout, logging the command.
func (h *Host) Out(ctx context.Context, cmd string) (string, error) {
	LogCommand(plan.LogWriter(ctx), cmd)
	stdout, _, _, err := h.Run(ctx, cmd)
	return strings.TrimSpace(string(stdout)), err
}

// Put places content at path atomically (checksum-checked) with mode.
func (h *Host) Put(ctx context.Context, path string, content []byte, mode fs.FileMode) error {
	fmt.Fprintf(plan.LogWriter(ctx), "upload %s (%d bytes)\n", path, len(content))
	return h.Upload(ctx, bytes.NewReader(content), int64(len(content)), path, mode)
}

// Install places content at path only if it differs from what is there:
// it is staged next to path, checked with test (a command with one %s for
// the staged file, which is filled in quoted; "" for none), and renamed over path when it differs, so
// a file that fails its test never replaces a working one. It reports
// whether path changed, so services restart only when their configuration
// did. In a dry run it reports a change (the restart is listed).
func (h *Host) Install(ctx context.Context, path string, content []byte, mode fs.FileMode, test string) (bool, error) {
	staged := path + ".appliance-new"
	if err := h.Put(ctx, staged, content, mode); err != nil {
		return false, err
	}
	qs := sshx.Quote(staged)
	if test != "" {
		if err := h.Sh(ctx, fmt.Sprintf(test, qs)); err != nil {
			_ = h.Sh(ctx, "rm -f -- "+qs)
			return false, fmt.Errorf("%s rendered by deploy fails its test (%s), so it was not installed: %w", path, fmt.Sprintf(test, qs), err)
		}
	}
	out, err := h.Out(ctx, fmt.Sprintf("if cmp -s -- %[1]s %[2]s; then rm -f -- %[1]s; echo unchanged; else mv -f -- %[1]s %[2]s; echo changed; fi", qs, sshx.Quote(path)))
	if err != nil {
		return false, err
	}
	return out != "unchanged", nil
}

// Service enables name and makes it run: restarted when its configuration
// changed, else started if it is not running. Then it must be active.
func (h *Host) Service(ctx context.Context, name string, changed bool) error {
	q := sshx.Quote(name)
	action := "systemctl start " + q
	if changed {
		action = "systemctl restart " + q
	}
	cmd := fmt.Sprintf("systemctl enable %s && %s && systemctl is-active %s", q, action, q)
	if err := h.Sh(ctx, cmd); err != nil {
		return fmt.Errorf("starting %s: %w; see journalctl -u %s on %s", name, err, name, h.Host.Name)
	}
	return nil
}

// Warnf reports something the host could not do but the deployment
// tolerates (a container cannot load kernel modules): on the console and
// in the host log, so it is on record.
func Warnf(ctx context.Context, format string, args ...any) {
	plan.Logf(ctx, "WARNING: "+format, args...)
}

// OnHost is a dry run's recorder for commands another host runs on behalf
// of a phase (the first master creating a join token): each command is
// listed with the host it runs on, as "[on HOST] COMMAND".
type OnHost struct {
	sshx.Runner
	Host string // the host the commands run on
}

func (o OnHost) Run(ctx context.Context, cmd string) ([]byte, []byte, int, error) {
	return o.Runner.Run(ctx, "[on "+o.Host+"] "+cmd)
}

func (o OnHost) Stream(ctx context.Context, cmd string, w io.Writer) (int, error) {
	return o.Runner.Stream(ctx, "[on "+o.Host+"] "+cmd, w)
}

func (o OnHost) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode fs.FileMode) error {
	return o.Runner.Upload(ctx, r, size, "[on "+o.Host+"] "+remotePath, mode)
}
