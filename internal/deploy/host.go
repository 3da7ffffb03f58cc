package deploy

import (
	"context"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// hostFunc is the work of one host phase. The same function runs for real
// (against an *sshx.Client) and for --dry-run (against an *sshx.Recorder,
// where every command "succeeds" with empty output).
type hostFunc func(ctx context.Context, h *remote.Host) error

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
				return finalIfPermanent(fn(ctx, &remote.Host{Runner: r, Host: h}))
			},
			DryRun: func() []string {
				rec := sshx.NewRecorder(h.Name, d.red)
				_ = fn(context.Background(), &remote.Host{Runner: rec, Host: h, Dry: true})
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
