package plan

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

type result struct {
	leaf *Phase
	err  error
}

// scheduler is the state of one run: which leaves are done, running, failed,
// and how many run under each group.
type scheduler struct {
	e       *Executor
	pending []*Phase
	done    map[string]bool
	failed  map[string]bool
	running map[string]bool
	active  map[string]int
	results chan result
	attempt map[string]int
}

func (e *Executor) run(ctx context.Context, scope []*Phase) error {
	st := e.Status()
	s := &scheduler{e: e, done: map[string]bool{}, failed: map[string]bool{}, running: map[string]bool{},
		active: map[string]int{}, results: make(chan result), attempt: map[string]int{}}
	for _, l := range e.plan.leaves {
		s.done[l.ID] = st.State(l.ID) == Completed
		s.attempt[l.ID] = st[l.ID].Attempt
	}
	for _, l := range scope {
		if s.done[l.ID] {
			continue
		}
		if st.State(l.ID) == InProgress {
			e.prog.line(l, "was interrupted in an earlier run; running it again")
		}
		s.pending = append(s.pending, l)
	}
	rerr := &RunError{redact: e.opts.Redactor}
	for {
		if ctx.Err() == nil {
			s.startReady(ctx)
		}
		if len(s.running) == 0 {
			break
		}
		r := <-s.results
		s.finish(r, rerr)
	}
	return s.summarize(ctx, rerr)
}

// startReady starts, in listing order, every pending leaf whose requirements
// are completed and whose groups have a free slot.
func (s *scheduler) startReady(ctx context.Context) {
	rest := s.pending[:0]
	for _, l := range s.pending {
		if !s.ready(l) || !s.slotFree(l) {
			rest = append(rest, l)
			continue
		}
		s.running[l.ID] = true
		for _, g := range s.e.plan.groups[l.ID] {
			s.active[g.ID]++
		}
		s.attempt[l.ID]++
		go func(l *Phase, attempt int) {
			s.results <- result{l, s.e.runLeaf(ctx, l, attempt)}
		}(l, s.attempt[l.ID])
	}
	s.pending = rest
}

func (s *scheduler) ready(l *Phase) bool {
	for _, d := range s.e.plan.deps[l.ID] {
		if !s.done[d] {
			return false
		}
	}
	return true
}

func (s *scheduler) slotFree(l *Phase) bool {
	for _, g := range s.e.plan.groups[l.ID] {
		limit := g.Parallel
		if limit <= 0 {
			limit = s.e.opts.Parallelism
		}
		if s.active[g.ID] >= limit {
			return false
		}
	}
	return true
}

func (s *scheduler) finish(r result, rerr *RunError) {
	delete(s.running, r.leaf.ID)
	for _, g := range s.e.plan.groups[r.leaf.ID] {
		s.active[g.ID]--
	}
	if r.err != nil {
		s.failed[r.leaf.ID] = true
		rerr.Failures = append(rerr.Failures, Failure{Phase: r.leaf.ID, Host: r.leaf.Host, Err: r.err})
		return
	}
	s.done[r.leaf.ID] = true
}

func (s *scheduler) summarize(ctx context.Context, rerr *RunError) error {
	for _, l := range s.pending {
		rerr.NotRun = append(rerr.NotRun, l.ID)
	}
	if len(rerr.Failures) == 0 && len(rerr.NotRun) == 0 {
		return nil
	}
	rerr.Canceled = ctx.Err() != nil
	return rerr
}

// runLeaf journals the leaf in_progress, runs it (with its attempts), and
// journals the outcome. Every state change is durable before the next step.
func (e *Executor) runLeaf(ctx context.Context, l *Phase, attempt int) error {
	if err := e.record(l, InProgress, attempt, nil); err != nil {
		e.prog.line(l, "cannot record start: "+err.Error())
		return fmt.Errorf("%w: %v", errJournal, err)
	}
	start := e.opts.Now()
	e.prog.line(l, l.Title)
	err := e.attempts(withPhase(ctx, l, e.prog), l)
	if err != nil {
		e.prog.line(l, fmt.Sprintf("FAILED after %s: %v", e.since(start), err))
		if jerr := e.record(l, Failed, attempt, err); jerr != nil {
			e.prog.line(l, "cannot record failure: "+jerr.Error())
		}
		return err
	}
	if err := e.record(l, Completed, attempt, nil); err != nil {
		e.prog.line(l, "done, but cannot record it (the phase will run again): "+err.Error())
		return fmt.Errorf("%w: %v", errJournal, err)
	}
	e.prog.line(l, fmt.Sprintf("completed in %s", e.since(start)))
	return nil
}

func (e *Executor) since(t time.Time) time.Duration {
	return e.opts.Now().Sub(t).Round(100 * time.Millisecond)
}

func (e *Executor) attempts(ctx context.Context, l *Phase) error {
	n := max(l.Attempts, 1)
	var err error
	for a := 1; a <= n; a++ {
		if a > 1 {
			wait := backoff(a)
			Logf(ctx, "attempt %d/%d in %s after: %v", a, n, wait.Round(100*time.Millisecond), err)
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (interrupted while waiting to retry: %v)", err, ctx.Err())
			case <-time.After(wait):
			}
		}
		if err = safeRun(ctx, l); err == nil || ctx.Err() != nil || IsFinal(err) {
			return err
		}
	}
	return err
}

func safeRun(ctx context.Context, l *Phase) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("phase %s panicked: %v\n%s", l.ID, r, debug.Stack())
		}
	}()
	return l.Run(ctx)
}
