package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/plan"
)

// ErrJournalExists is returned when a state directory already holds a
// deployment and neither Resume nor Restart was asked for.
var ErrJournalExists = errors.New("the state directory already holds a deployment")

// ErrComplete is returned when the state directory holds a deployment
// whose every phase completed and neither Resume, Restart nor Phase was
// asked for: nothing is run.
var ErrComplete = errors.New("the deployment in the state directory is complete")

// ErrOtherBundle is returned by a resume with a bundle other than the one
// the journal's deployment started with.
var ErrOtherBundle = errors.New("the state directory's deployment is of another bundle")

// RunOptions say which part of the plan a Run runs.
type RunOptions struct {
	// Resume continues the deployment in the state directory, skipping
	// completed phases. Without Resume or Restart, a state directory whose
	// journal has records is refused (ErrJournalExists).
	Resume bool
	// Restart starts over: the old journal is kept as journal-<time>.jsonl.
	Restart bool
	// Phase runs only this phase (and what it contains); with Force it runs
	// even if completed.
	Phase string
	Force bool
	// ResumeCommand is the command line that resumes this run, with the
	// flags it was given; it is recorded in PlanFile for deploy status.
	ResumeCommand string
}

// apiEndpoint is the endpoint (HOST:PORT) deploy configures for the
// apiservers: the VIP's, or the first master's. The admin kubeconfig must
// name it (steps.Site.FetchKubeconfig, /stack, deploy status).
func (d *Deployment) apiEndpoint() string { return d.cluster().Endpoint }

// Run runs the deployment: it starts the site server, then runs the plan
// (all of it, the rest of it with Resume, or one phase), reporting progress
// per host and phase to Config.Out and one log per host in the state
// directory. The site server stops when Run returns.
func (d *Deployment) Run(ctx context.Context, o RunOptions) error {
	p, err := d.Plan()
	if err != nil {
		return err
	}
	if err := d.prepareState(p, o); err != nil {
		return err
	}
	ex, err := plan.NewExecutor(p, d.cfg.StateDir, plan.Options{
		Parallelism: d.cfg.Parallelism, Progress: d.cfg.Out, Redactor: d.red})
	if err != nil {
		return err
	}
	defer ex.Close()
	if err := d.Start(ctx); err != nil {
		return err
	}
	switch {
	case o.Phase != "" && o.Force:
		return ex.Force(ctx, o.Phase, false)
	case o.Phase != "":
		return ex.RunPhase(ctx, o.Phase)
	default:
		return ex.Run(ctx)
	}
}

// prepareState decides what to do with a journal already in the state
// directory, then records the plan.
func (d *Deployment) prepareState(p *plan.Plan, o RunOptions) error {
	recs, err := plan.ReadJournal(d.cfg.StateDir)
	if err != nil {
		return err
	}
	saved, err := d.state.ReadPlan()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	digest := d.bundleDigest()
	switch {
	case len(recs) == 0:
	case o.Restart:
		if err := d.state.ArchiveJournal(); err != nil {
			return err
		}
	case o.Resume || o.Phase != "":
		if saved != nil && saved.Bundle != digest {
			return fmt.Errorf("%w: it deploys %s (bundle.json %s), not %s %s (%s); resume with that bundle, or start over with --restart",
				ErrOtherBundle, saved.Name, state.ShortDigest(saved.Bundle), d.index.Name, d.index.Version, state.ShortDigest(digest))
		}
	case complete(p, recs):
		return completeError(d.cfg.StateDir, saved, p, recs)
	default:
		return fmt.Errorf("%w (%s, %d journal records); continue it with --resume, see it with `deploy plan --state-dir %s`, or start over with --restart",
			ErrJournalExists, d.cfg.StateDir, len(recs), d.cfg.StateDir)
	}
	created := time.Now().UTC()
	if saved != nil && !o.Restart && len(recs) > 0 {
		created = saved.Created
	}
	return d.state.WritePlan(state.SavedPlan{Bundle: digest, Name: d.index.Name + " " + d.index.Version,
		Created: created, APIServer: d.apiEndpoint(), Phases: p.View(nil), Resume: o.ResumeCommand})
}

// complete reports whether the journal shows every leaf of p completed.
func complete(p *plan.Plan, recs []plan.Record) bool {
	st := plan.Resolve(recs)
	for _, l := range p.Leaves() {
		if st.State(l.ID) != plan.Completed {
			return false
		}
	}
	return len(p.Leaves()) > 0
}

// completeError says that the deployment is complete and what each way of
// running it again would do.
func completeError(dir string, saved *state.SavedPlan, p *plan.Plan, recs []plan.Record) error {
	what := fmt.Sprintf("all %d phases", len(p.Leaves()))
	if saved != nil {
		what += " of " + saved.Name
	}
	return fmt.Errorf(`%w: %s completed, the last at %s; nothing was run. To run phases again (each is idempotent: what is in place stays):
  --restart            runs every phase from the start, such as after a change to the inventory (the journal is kept aside as journal-<time>.jsonl)
  --phase ID --force   runs one phase (and what it contains) again, such as --phase /stack/<release> --force; deploy plan --state-dir %s lists the IDs
deploy status --state-dir %s shows the site`,
		ErrComplete, what, recs[len(recs)-1].Time.Format(time.RFC3339), dir, dir)
}

// bundleDigest is the sha256 of bundle.json: what the signature covers, so
// it names the bundle's whole content.
func (d *Deployment) bundleDigest() string {
	sum := sha256.Sum256(d.bundle.IndexBytes())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DryRun writes, for every phase in an order the executor could run them,
// the host and the exact commands it would run, marking the phases the
// state directory's journal shows completed. It touches no host, starts no
// server and writes nothing.
func (d *Deployment) DryRun(w io.Writer) error {
	p, err := d.Plan()
	if err != nil {
		return err
	}
	st, err := plan.LoadStatus(d.cfg.StateDir)
	if err != nil {
		return err
	}
	return p.WriteDryRun(w, st)
}
