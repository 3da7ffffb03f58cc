package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// PlanFile records, in the state directory, the phase tree of the
// deployment and the bundle it deploys, so `deploy plan` shows the tree
// without the inventory or the bundle, and --resume refuses another bundle.
const PlanFile = "plan.json"

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

// savedPlan is PlanFile.
type savedPlan struct {
	Bundle  string    `json:"bundle"`  // sha256 of bundle.json
	Name    string    `json:"name"`    // bundle name and version
	Created time.Time `json:"created"` // when the deployment started
	// APIServer is the endpoint (HOST:PORT) deploy configured for the
	// apiservers: deploy status reaches the cluster there and nowhere else,
	// whatever server the admin kubeconfig names.
	APIServer string           `json:"apiServer,omitempty"`
	Phases    []plan.PhaseView `json:"phases"`
	// Resume is the command that resumes the last run, with its flags
	// (RunOptions.ResumeCommand); "" when that run did not say.
	Resume string `json:"resume,omitempty"`
}

// apiEndpoint is the endpoint (HOST:PORT) deploy configures for the
// apiservers: the VIP's, or the first master's. The admin kubeconfig must
// name it (fetchKubeconfig, /stack, deploy status).
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
	saved, err := readSavedPlan(d.cfg.StateDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	digest := d.bundleDigest()
	switch {
	case len(recs) == 0:
	case o.Restart:
		if err := archiveJournal(d.cfg.StateDir); err != nil {
			return err
		}
	case o.Resume || o.Phase != "":
		if saved != nil && saved.Bundle != digest {
			return fmt.Errorf("%w: it deploys %s (bundle.json %s), not %s %s (%s); resume with that bundle, or start over with --restart",
				ErrOtherBundle, saved.Name, short(saved.Bundle), d.index.Name, d.index.Version, short(digest))
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
	return writeSavedPlan(d.cfg.StateDir, savedPlan{Bundle: digest, Name: d.index.Name + " " + d.index.Version,
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
func completeError(dir string, saved *savedPlan, p *plan.Plan, recs []plan.Record) error {
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

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// bundleDigest is the sha256 of bundle.json: what the signature covers, so
// it names the bundle's whole content.
func (d *Deployment) bundleDigest() string {
	sum := sha256.Sum256(d.bundle.IndexBytes())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// archiveJournal moves the journal aside under the state directory's lock.
func archiveJournal(dir string) error {
	j, err := plan.OpenJournal(dir)
	if err != nil {
		return err
	}
	defer j.Close()
	old := filepath.Join(dir, plan.JournalFile)
	kept := filepath.Join(dir, "journal-"+time.Now().UTC().Format("20060102T150405Z")+".jsonl")
	return os.Rename(old, kept)
}

// maxPlanFile bounds PlanFile: a site of a thousand hosts writes a few MiB.
const maxPlanFile = 32 << 20

// readSavedPlan reads PlanFile, at most maxPlanFile bytes of it: the state
// directory may come from anyone.
func readSavedPlan(dir string) (*savedPlan, error) {
	file := filepath.Join(dir, PlanFile)
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPlanFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(b) > maxPlanFile {
		return nil, fmt.Errorf("%s is larger than %d MiB; deploy does not write such a plan: restore the file or start over with a new --state-dir",
			file, maxPlanFile>>20)
	}
	var s savedPlan
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &s, nil
}

// writeSavedPlan writes PlanFile atomically.
func writeSavedPlan(dir string, s savedPlan) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, PlanFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, PlanFile))
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

// ShowPlan renders the deployment recorded in stateDir (the phase tree in
// PlanFile and the states in the journal) as a table, or as JSON.
func ShowPlan(w io.Writer, stateDir string, asJSON bool) error {
	r, err := loadRecorded(stateDir)
	if err != nil {
		return err
	}
	if asJSON {
		return r.plan.RenderJSON(w, r.status)
	}
	fmt.Fprintf(w, "deployment of %s (bundle.json %s), started %s\n\n", termtext.Line(r.saved.Name), termtext.Line(short(r.saved.Bundle)), r.saved.Created.Format(time.RFC3339))
	return r.plan.Render(w, r.status)
}

// ErrNoDeployment is returned by the commands that read a state directory
// (deploy plan, deploy status) when it holds no deployment.
var ErrNoDeployment = errors.New("the state directory holds no deployment")

// recorded is the deployment recorded in a state directory.
type recorded struct {
	saved  *savedPlan
	plan   *plan.Plan  // a skeleton: it renders and resolves, never runs
	status plan.Status // the journal's, read without locking
}

// loadRecorded reads the deployment recorded in stateDir: the phase tree
// and the bundle from PlanFile, each phase's state from the journal. It
// takes no lock, so it can watch a deploy that is running, and writes
// nothing.
func loadRecorded(stateDir string) (*recorded, error) {
	const start = "deploy --bundle FILE -i INVENTORY --state-dir "
	if _, err := os.Stat(stateDir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; start a deployment with %s%s", ErrNoDeployment, stateDir, start, stateDir)
	}
	saved, err := readSavedPlan(stateDir)
	if errors.Is(err, os.ErrNotExist) {
		what := "no journal (" + plan.JournalFile + ") and no " + PlanFile
		if _, jerr := os.Stat(filepath.Join(stateDir, plan.JournalFile)); jerr == nil {
			what = "a journal but no " + PlanFile + " (the phase tree)"
		}
		return nil, fmt.Errorf("%w: %s has %s; start one with %s%s", ErrNoDeployment, stateDir, what, start, stateDir)
	}
	if err != nil {
		return nil, err
	}
	p, err := plan.New(skeleton(saved.Phases)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(stateDir, PlanFile), err)
	}
	st, err := plan.LoadStatus(stateDir)
	if err != nil {
		return nil, err
	}
	return &recorded{saved: saved, plan: p, status: st}, nil
}

// skeleton rebuilds phases from their views, with leaves that do nothing:
// enough to render the tree and resolve states, never to run.
func skeleton(views []plan.PhaseView) []*plan.Phase {
	var out []*plan.Phase
	for _, v := range views {
		p := &plan.Phase{ID: v.ID, Title: v.Title, Host: v.Host, Requires: v.Requires}
		if len(v.Children) > 0 {
			p.Children = skeleton(v.Children)
		} else {
			p.Run = func(context.Context) error { return errors.New("a recorded plan cannot run") }
		}
		out = append(out, p)
	}
	return out
}
