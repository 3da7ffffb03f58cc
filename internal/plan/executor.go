package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultParallelism is how many leaves of one group run at once when neither
// the group nor the Options say otherwise.
const DefaultParallelism = 5

// Options configure an Executor.
type Options struct {
	// Parallelism is the default cap on concurrent leaves per group
	// (default DefaultParallelism). A group's Parallel overrides it.
	Parallelism int
	// Progress receives one line per phase event (default: discarded).
	Progress io.Writer
	// Redactor filters the console and every host log (default: none).
	Redactor Redactor
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Executor runs a Plan against the journal of one state directory. It holds
// the state directory's lock from NewExecutor until Close. An Executor runs
// one operation at a time; its methods are not safe for concurrent use.
type Executor struct {
	plan    *Plan
	journal *Journal
	opts    Options
	prog    *progress
}

// NewExecutor locks stateDir and opens its journal (see OpenJournal).
func NewExecutor(p *Plan, stateDir string, opts Options) (*Executor, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	j, err := OpenJournal(stateDir)
	if err != nil {
		return nil, err
	}
	return &Executor{plan: p, journal: j, opts: opts,
		prog: newProgress(opts.Progress, stateDir, opts.Redactor, opts.Now)}, nil
}

// Close flushes the logs, closes the journal and releases the lock.
func (e *Executor) Close() error {
	err := e.prog.close()
	if jerr := e.journal.Close(); err == nil {
		err = jerr
	}
	return err
}

// Status returns the plan's state as resolved from the journal.
func (e *Executor) Status() Status { return Resolve(e.journal.Records()) }

// Failure is one phase that failed.
type Failure struct {
	Phase string
	Host  string
	Err   error
}

// RunError reports a run that did not complete: every phase that failed, and
// the phases that did not run because something they require did not
// complete. Use errors.As to get it.
type RunError struct {
	Failures []Failure
	NotRun   []string
	Canceled bool

	redact Redactor
}

// Error lists the failures; registered secrets are masked.
func (e *RunError) Error() string {
	return redactString(e.redact, e.text())
}

func (e *RunError) text() string {
	var b strings.Builder
	switch {
	case len(e.Failures) > 0:
		fmt.Fprintf(&b, "%d phase(s) failed", len(e.Failures))
	case e.Canceled:
		b.WriteString("deploy interrupted")
	default:
		b.WriteString("deploy did not complete")
	}
	for _, f := range e.Failures {
		host := f.Host
		if host == "" {
			host = deployNodeLog
		}
		fmt.Fprintf(&b, "\n  %s [%s]: %v", f.Phase, host, f.Err)
	}
	if len(e.NotRun) > 0 {
		fmt.Fprintf(&b, "\n  not run (waiting for the above): %s", strings.Join(e.NotRun, ", "))
	}
	b.WriteString("\nfix the cause and run again with --resume; completed phases are skipped")
	return b.String()
}

// Unwrap returns the phase errors, so errors.Is sees through a RunError.
func (e *RunError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failures))
	for _, f := range e.Failures {
		errs = append(errs, f.Err)
	}
	return errs
}

// Run runs every leaf that is not completed, each once the leaves it
// requires are completed, and returns nil when the whole plan is completed.
// Leaves found in_progress or failed are run again. When a leaf fails, its
// dependents are not started, but every independent leaf still runs and the
// running ones finish; the RunError lists all failures. When ctx is canceled
// no new leaf starts and Run waits for the running ones.
func (e *Executor) Run(ctx context.Context) error {
	return e.run(ctx, e.plan.leaves)
}

// RunPhase runs the leaves under the phase id that are not completed. Every
// leaf outside the phase that they require must already be completed.
func (e *Executor) RunPhase(ctx context.Context, id string) error {
	leaves, err := e.scope(id)
	if err != nil {
		return err
	}
	return e.run(ctx, leaves)
}

// Force marks the leaves under phase id unstarted in the journal and runs
// them again, even if they completed. Phases that depend on them are not
// re-run unless withDependents is true, in which case every leaf that
// (transitively) requires one of them is reset and run too.
func (e *Executor) Force(ctx context.Context, id string, withDependents bool) error {
	leaves, err := e.scope(id)
	if err != nil {
		return err
	}
	if withDependents {
		ids := make([]string, len(leaves))
		for i, l := range leaves {
			ids[i] = l.ID
		}
		leaves = e.plan.dependents(ids)
	}
	st := e.Status()
	for _, l := range leaves {
		if err := e.record(l, Unstarted, st[l.ID].Attempt, nil); err != nil {
			return err
		}
	}
	return e.run(ctx, leaves)
}

func (e *Executor) scope(id string) ([]*Phase, error) {
	leaves := e.plan.under[id]
	if leaves == nil {
		return nil, fmt.Errorf("phase %s: %w; `deploy plan` lists the phases", id, ErrUnknownPhase)
	}
	in := map[string]bool{}
	for _, l := range leaves {
		in[l.ID] = true
	}
	st := e.Status()
	for _, l := range leaves {
		for _, d := range e.plan.deps[l.ID] {
			if !in[d] && st.State(d) != Completed {
				return nil, fmt.Errorf("phase %s requires %s, which is %s; run it first (deploy --phase %s) or use --resume",
					l.ID, d, st.State(d), d)
			}
		}
	}
	return leaves, nil
}

func (e *Executor) record(ph *Phase, s State, attempt int, err error) error {
	rec := Record{Phase: ph.ID, State: s, Time: e.opts.Now().UTC(), Attempt: attempt}
	if err != nil {
		rec.Error = redactString(e.opts.Redactor, err.Error())
	}
	return e.journal.Append(rec)
}

func redactString(r Redactor, s string) string {
	if r == nil {
		return s
	}
	var b strings.Builder
	w := r.Writer(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

// backoff returns the wait before attempt n (n >= 2): 1s, 2s, 4s... capped at
// 30s, with up to 20% jitter.
func backoff(n int) time.Duration {
	d := time.Second << min(n-2, 5)
	d = min(d, 30*time.Second)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

var errJournal = errors.New("journal write failed")
