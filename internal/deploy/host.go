package deploy

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

// hostFunc is the work of one host phase. The same function runs for real
// (against an *sshx.Client) and for --dry-run (against an *sshx.Recorder,
// where every command "succeeds" with empty output).
type hostFunc func(ctx context.Context, h *remote) error

// remote is one host as a phase sees it: the runner, the inventory entry,
// and whether this is a dry run (output is then empty, and checks that
// read output are skipped).
type remote struct {
	sshx.Runner
	host inventory.Host
	dry  bool
}

// hostPhase returns the builder of a host's leaf under group: its Run dials
// the host (reusing a connection) and runs fn; its DryRun runs fn against a
// Recorder.
func (d *Deployment) hostPhase(group, title string, fn hostFunc) func(inventory.Host) *plan.Phase {
	return func(h inventory.Host) *plan.Phase {
		return &plan.Phase{
			ID:       group + "/" + h.Name,
			Title:    title,
			Host:     h.Name,
			Attempts: d.cfg.Attempts,
			Run: func(ctx context.Context) error {
				r, err := d.runner(ctx, h)
				if err != nil {
					return err
				}
				return finalIfPermanent(fn(ctx, &remote{Runner: r, host: h}))
			},
			DryRun: func() []string {
				rec := sshx.NewRecorder(h.Name, d.red)
				_ = fn(context.Background(), &remote{Runner: rec, host: h, dry: true})
				if h.UsesSudo() {
					return append([]string{"# as " + h.User + ", each command through sudo"}, rec.Commands()...)
				}
				return rec.Commands()
			},
		}
	}
}

// runner returns the SSH client of host h, dialing it on first use. A
// connection that dropped is re-established by the client itself.
func (d *Deployment) runner(ctx context.Context, h inventory.Host) (sshx.Runner, error) {
	d.connMu.Lock()
	defer d.connMu.Unlock()
	if c, ok := d.conns[h.Name]; ok {
		return c, nil
	}
	cfg := d.inv.SSHConfig(h)
	cfg.AcceptNewHostKeys = d.cfg.AcceptNewHostKeys
	cfg.SudoPassword = d.cfg.SudoPassword
	cfg.Redactor = d.red
	cfg.DialTimeout = d.cfg.DialTimeout
	cfg.DialAttempts = d.cfg.DialAttempts
	cfg.CommandTimeout = d.cfg.CommandTimeout
	cfg.KeepaliveInterval = d.cfg.KeepaliveInterval
	logf, err := d.state.OpenLog(h.Name + ".ssh.log")
	if err != nil {
		return nil, err
	}
	cfg.Log = logf // the SSH transport log (dials, reconnects, host keys); commands go to the host log
	c, err := sshx.Dial(ctx, cfg)
	if err != nil {
		logf.Close()
		return nil, finalIfPermanent(err)
	}
	d.logs = append(d.logs, logf)
	d.conns[h.Name] = c
	return c, nil
}

// finalIfPermanent marks a connection failure that another attempt cannot
// change (sshx.IsPermanent: no route to the host, a connection refused past
// its grace, a refused host key or login) as final, so its phase fails at
// once instead of after its attempts, each of which would dial again.
func finalIfPermanent(err error) error {
	if err != nil && sshx.IsPermanent(err) && !plan.IsFinal(err) {
		return plan.Final(err)
	}
	return err
}

// sh runs a command, logging it and its output to the host log; a non-zero
// exit is an error carrying the tail of the output.
func (h *remote) sh(ctx context.Context, cmd string) error {
	w := plan.LogWriter(ctx)
	logCommand(w, cmd)
	_, err := h.Stream(ctx, cmd, w)
	return err
}

// logCommand writes cmd to a host log as a shell shows what it reads: "$ "
// before its first line, "> " before each further one (LoggedCommands
// reads them back).
func logCommand(w io.Writer, cmd string) {
	fmt.Fprintf(w, "$ %s\n", strings.ReplaceAll(cmd, "\n", "\n> "))
}

// LoggedCommands returns the commands a host log records (see logCommand),
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

// out runs a command and returns its trimmed stdout, logging the command.
func (h *remote) out(ctx context.Context, cmd string) (string, error) {
	logCommand(plan.LogWriter(ctx), cmd)
	stdout, _, _, err := h.Run(ctx, cmd)
	return strings.TrimSpace(string(stdout)), err
}

// put places content at path atomically (checksum-checked) with mode.
func (h *remote) put(ctx context.Context, path string, content []byte, mode fs.FileMode) error {
	fmt.Fprintf(plan.LogWriter(ctx), "upload %s (%d bytes)\n", path, len(content))
	return h.Upload(ctx, bytes.NewReader(content), int64(len(content)), path, mode)
}

// install places content at path only if it differs from what is there:
// it is staged next to path, checked with test (a command with one %s for
// the staged file, which is filled in quoted; "" for none), and renamed over path when it differs, so
// a file that fails its test never replaces a working one. It reports
// whether path changed, so services restart only when their configuration
// did. In a dry run it reports a change (the restart is listed).
func (h *remote) install(ctx context.Context, path string, content []byte, mode fs.FileMode, test string) (bool, error) {
	staged := path + ".appliance-new"
	if err := h.put(ctx, staged, content, mode); err != nil {
		return false, err
	}
	qs := sshx.Quote(staged)
	if test != "" {
		if err := h.sh(ctx, fmt.Sprintf(test, qs)); err != nil {
			_ = h.sh(ctx, "rm -f -- "+qs)
			return false, fmt.Errorf("%s rendered by deploy fails its test (%s), so it was not installed: %w", path, fmt.Sprintf(test, qs), err)
		}
	}
	out, err := h.out(ctx, fmt.Sprintf("if cmp -s -- %[1]s %[2]s; then rm -f -- %[1]s; echo unchanged; else mv -f -- %[1]s %[2]s; echo changed; fi", qs, sshx.Quote(path)))
	if err != nil {
		return false, err
	}
	return out != "unchanged", nil
}

// service enables name and makes it run: restarted when its configuration
// changed, else started if it is not running. Then it must be active.
func (h *remote) service(ctx context.Context, name string, changed bool) error {
	q := sshx.Quote(name)
	action := "systemctl start " + q
	if changed {
		action = "systemctl restart " + q
	}
	cmd := fmt.Sprintf("systemctl enable %s && %s && systemctl is-active %s", q, action, q)
	if err := h.sh(ctx, cmd); err != nil {
		return fmt.Errorf("starting %s: %w; see journalctl -u %s on %s", name, err, name, h.host.Name)
	}
	return nil
}

// warnf reports something the host could not do but the deployment
// tolerates (a container cannot load kernel modules): on the console and
// in the host log, so it is on record.
func warnf(ctx context.Context, format string, args ...any) {
	plan.Logf(ctx, "WARNING: "+format, args...)
}

// onHost is a dry run's recorder for commands another host runs on behalf
// of a phase (the first master creating a join token): each command is
// listed with the host it runs on.
type onHost struct {
	sshx.Runner
	host string
}

func (o onHost) Run(ctx context.Context, cmd string) ([]byte, []byte, int, error) {
	return o.Runner.Run(ctx, "[on "+o.host+"] "+cmd)
}

func (o onHost) Stream(ctx context.Context, cmd string, w io.Writer) (int, error) {
	return o.Runner.Stream(ctx, "[on "+o.host+"] "+cmd, w)
}

func (o onHost) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode fs.FileMode) error {
	return o.Runner.Upload(ctx, r, size, "[on "+o.host+"] "+remotePath, mode)
}
