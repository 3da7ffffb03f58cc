package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/plan"
)

// OpsDir is the directory of the state directory that holds one directory
// per day-two operation (such as ops/certs-renew): its plan.json, journal
// and host logs, as the deployment's own are in the state directory.
const OpsDir = "ops"

// Ops are the day-two operations on a deployed site (deploy certs renew,
// and the others of the day-two commands). Each is a plan of phases with a
// journal of its own under STATE/ops/NAME, run like a deployment: --dry-run,
// --resume after a failure or a kill, --phase. They need no bundle: they
// act on what the site runs. Close releases the SSH connections.
type Ops struct {
	d *Deployment
}

// OpenOps opens the site of cfg for day-two operations. cfg.BundlePath is
// not used.
func OpenOps(cfg Config) (*Ops, error) {
	switch {
	case cfg.Inventory == nil:
		return nil, errors.New("deploy: no inventory; give -i inventory.yaml")
	case cfg.StateDir == "":
		return nil, errors.New("deploy: no state directory; give --state-dir DIR")
	}
	d := openSite(cfg)
	if len(d.masters) == 0 {
		return nil, fmt.Errorf("inventory %s has no master: day-two operations act on a cluster", cfg.Inventory.Path)
	}
	if _, err := d.state.Kubeconfig(); err != nil {
		return nil, fmt.Errorf("%w; day-two operations act on a deployed cluster", err)
	}
	return &Ops{d: d}, nil
}

// Close closes every SSH connection.
func (o *Ops) Close() error { return o.d.Close() }

// op is one day-two operation: its name (its directory under OpsDir),
// what it is for people, and its phases.
type op struct {
	name, title string
	phases      []*plan.Phase
	// start, when set, runs before the phases, once the state directory is
	// locked: the site server, for an operation that installs from the
	// bundle.
	start func(context.Context) error
}

// dir is the operation's state directory.
func (o *Ops) dir(name string) state.Dir {
	return state.Dir(filepath.Join(o.d.cfg.StateDir, OpsDir, name))
}

// run runs op x with the options of a deployment run: the rest of an
// interrupted one with Resume, one phase with Phase. A journal whose every
// phase completed is kept aside (journal-<time>.jsonl) and the operation
// runs afresh: an operation is meant to be run again. One that stopped
// must be resumed or restarted. The state directory's lock is held
// throughout, so no deploy runs beside it.
func (o *Ops) run(ctx context.Context, x op, ro RunOptions) error {
	p, err := plan.New(x.phases...)
	if err != nil {
		return err
	}
	lock, err := plan.Lock(o.d.cfg.StateDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	dir := o.dir(x.name)
	if err := os.MkdirAll(string(dir), 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	recs, err := plan.ReadJournal(string(dir))
	if err != nil {
		return err
	}
	switch {
	case len(recs) == 0:
	case ro.Restart || (complete(p, recs) && !ro.Resume && ro.Phase == ""):
		if err := dir.ArchiveJournal(); err != nil {
			return err
		}
	case ro.Resume || ro.Phase != "":
	default:
		return fmt.Errorf("the %s in %s stopped before its end (%d journal records); continue it with --resume, see it with `deploy plan --state-dir %s`, or start it over with --restart",
			x.title, dir, len(recs), dir)
	}
	if err := dir.WritePlan(state.SavedPlan{Name: x.title, Created: time.Now().UTC(), APIServer: o.d.apiEndpoint(),
		Phases: p.View(nil), Resume: ro.ResumeCommand}); err != nil {
		return err
	}
	ex, err := plan.NewExecutor(p, string(dir), plan.Options{Parallelism: o.d.cfg.Parallelism, Progress: o.d.cfg.Out, Redactor: o.d.red})
	if err != nil {
		return err
	}
	defer ex.Close()
	if x.start != nil {
		if err := x.start(ctx); err != nil {
			return err
		}
	}
	switch {
	case ro.Phase != "" && ro.Force:
		return ex.Force(ctx, ro.Phase, false)
	case ro.Phase != "":
		return ex.RunPhase(ctx, ro.Phase)
	default:
		return ex.Run(ctx)
	}
}

// dryRun writes op x's phases and the commands each would run, marking
// those its journal shows completed.
func (o *Ops) dryRun(w io.Writer, x op) error {
	p, err := plan.New(x.phases...)
	if err != nil {
		return err
	}
	st, err := plan.LoadStatus(string(o.dir(x.name)))
	if err != nil {
		return err
	}
	return p.WriteDryRun(w, st)
}
