package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
)

// SavedPlan is PlanFile: the phase tree of the deployment and the bundle it
// deploys, so `deploy plan` shows the tree without the inventory or the
// bundle, and --resume refuses another bundle.
type SavedPlan struct {
	Bundle  string    `json:"bundle"`  // sha256 of bundle.json
	Name    string    `json:"name"`    // bundle name and version
	Created time.Time `json:"created"` // when the deployment started
	// APIServer is the endpoint (HOST:PORT) deploy configured for the
	// apiservers: deploy status reaches the cluster there and nowhere else,
	// whatever server the admin kubeconfig names.
	APIServer string           `json:"apiServer,omitempty"`
	Phases    []plan.PhaseView `json:"phases"`
	// Resume is the command that resumes the last run, with its flags;
	// "" when that run did not say.
	Resume string `json:"resume,omitempty"`
}

// MaxPlanFile bounds PlanFile: a site of a thousand hosts writes a few MiB.
const MaxPlanFile = 32 << 20

// ReadPlan reads PlanFile, at most MaxPlanFile bytes of it: the state
// directory may come from anyone. A missing file is an error wrapping
// os.ErrNotExist.
func (d Dir) ReadPlan() (*SavedPlan, error) {
	file := d.Path(PlanFile)
	b, err := ReadBounded(file, MaxPlanFile)
	if err != nil {
		return nil, err
	}
	var s SavedPlan
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &s, nil
}

// WritePlan writes PlanFile atomically, creating the directory (mode 0700).
func (d Dir) WritePlan(s SavedPlan) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	return WriteFile(d.Path(PlanFile), append(b, '\n'), 0o600)
}

// ArchiveJournal moves the journal aside, as journal-<time>.jsonl, under
// the state directory's lock.
func (d Dir) ArchiveJournal() error {
	j, err := plan.OpenJournal(string(d))
	if err != nil {
		return err
	}
	defer j.Close()
	kept := d.Path("journal-" + time.Now().UTC().Format("20060102T150405Z") + ".jsonl")
	return os.Rename(d.Path(plan.JournalFile), kept)
}

// ReadBounded reads file, refusing one larger than max bytes: a state
// directory may come from anyone. A missing file is an error wrapping
// os.ErrNotExist.
func ReadBounded(file string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if int64(len(b)) > max {
		limit := fmt.Sprintf("%d KiB", max>>10)
		if max >= 1<<20 {
			limit = fmt.Sprintf("%d MiB", max>>20)
		}
		return nil, fmt.Errorf("%s is larger than %s; deploy does not write such a file: restore it, or start over with a new --state-dir", file, limit)
	}
	return b, nil
}

// ErrNoDeployment is returned by the commands that read a state directory
// (deploy plan, deploy status) when it holds no deployment.
var ErrNoDeployment = errors.New("the state directory holds no deployment")

// Recorded is the deployment recorded in a state directory.
type Recorded struct {
	Saved  *SavedPlan
	Plan   *plan.Plan  // a skeleton: it renders and resolves, never runs
	Status plan.Status // the journal's, read without locking
}

// Load reads the deployment recorded in the state directory: the phase
// tree and the bundle from PlanFile, each phase's state from the journal.
// It takes no lock, so it can watch a deploy that is running, and writes
// nothing.
func (d Dir) Load() (*Recorded, error) {
	dir := string(d)
	const start = "deploy --bundle FILE -i INVENTORY --state-dir "
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; start a deployment with %s%s", ErrNoDeployment, dir, start, dir)
	}
	saved, err := d.ReadPlan()
	if errors.Is(err, os.ErrNotExist) {
		what := "no journal (" + plan.JournalFile + ") and no " + PlanFile
		if _, jerr := os.Stat(filepath.Join(dir, plan.JournalFile)); jerr == nil {
			what = "a journal but no " + PlanFile + " (the phase tree)"
		}
		return nil, fmt.Errorf("%w: %s has %s; start one with %s%s", ErrNoDeployment, dir, what, start, dir)
	}
	if err != nil {
		return nil, err
	}
	p, err := plan.New(skeleton(saved.Phases)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(PlanFile), err)
	}
	st, err := plan.LoadStatus(dir)
	if err != nil {
		return nil, err
	}
	return &Recorded{Saved: saved, Plan: p, Status: st}, nil
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

// ShortDigest is the first 19 characters of a digest ("sha256:" and 12 hex
// digits), as messages show it.
func ShortDigest(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}
