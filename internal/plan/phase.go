// Package plan runs a deployment as a tree of phases that survives any
// failure and resumes where it stopped, after Gravity's operation plan.
//
// A Plan is built once, by one function that lists the phases in order.
// Every phase has a path ID ("/packages/worker-1"), a title, the host it acts
// on ("" is the deploy node), the phases it Requires, and either a Run
// function (a leaf) or Children (a group). Top-level phases run in the order
// they are listed: each one implicitly requires the one before it. The
// children of a group run in parallel, at most Parallel at a time, unless the
// group is Sequential.
//
// Only leaves have state. A group is completed when all its leaves are, and a
// Requires entry naming a group means all of that group's leaves. The state of
// every leaf lives in one append-only journal in the state directory (see
// Journal); the plan's state is resolved from it, last record wins. Phases
// must be idempotent: a phase found in_progress when a run starts was cut off
// (the deployer was killed, or a host dropped) and is run again from the top.
package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Phase is one step of a deployment. Exactly one of Run and Children is set.
type Phase struct {
	// ID is the phase's path: "/" followed by slash-separated segments. A
	// child's ID starts with its parent's ID and a slash.
	ID string
	// Title says what the phase does, for people.
	Title string
	// Host names the host the phase acts on; "" is the deploy node. Progress
	// and the per-host log file are keyed by it.
	Host string
	// Requires lists phase IDs (leaves or groups) that must be completed
	// before this phase, or any of its children, starts.
	Requires []string
	// Run does the work. It must be idempotent: it may be run again after
	// it half-finished. Use Logf and LogWriter with its ctx for progress.
	Run func(ctx context.Context) error
	// DryRun lists the commands Run would run on Host, for --dry-run. It
	// must not touch anything.
	DryRun func() []string
	// Attempts is how many times Run is tried before the phase fails
	// (default 1). Attempts after the first wait 1s, 2s, 4s... (at most 30s).
	// An error marked Final is not tried again.
	Attempts int

	// Children make the phase a group.
	Children []*Phase
	// Parallel caps how many leaves under this group run at once; 0 means
	// the executor's default parallelism.
	Parallel int
	// Sequential makes each child require the child listed before it.
	Sequential bool
}

// Final marks err as a failure that another attempt of the phase cannot
// change (a host with no route to it, a refused login): a Run that returns
// it, or an error wrapping it, fails the phase at once, without its
// remaining Attempts. Final(nil) is nil.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return finalError{err}
}

type finalError struct{ error }

func (f finalError) Unwrap() error { return f.error }

// IsFinal reports whether err was marked by Final.
func IsFinal(err error) bool {
	var f finalError
	return errors.As(err, &f)
}

// Group returns a group phase whose children run in parallel.
func Group(id, title string, children ...*Phase) *Phase {
	return &Phase{ID: id, Title: title, Children: children}
}

// Steps returns a group phase whose children run one after another, in order.
func Steps(id, title string, children ...*Phase) *Phase {
	return &Phase{ID: id, Title: title, Children: children, Sequential: true}
}

// ForEach returns a group with one child per item, built by child, such as
// one phase per host: ForEach("/packages", "Install packages", hosts,
// func(h Host) *Phase { ... }). The children run in parallel.
func ForEach[T any](id, title string, items []T, child func(T) *Phase) *Phase {
	g := &Phase{ID: id, Title: title}
	for _, it := range items {
		g.Children = append(g.Children, child(it))
	}
	return g
}

// IsGroup reports whether the phase has children.
func (p *Phase) IsGroup() bool { return len(p.Children) > 0 }

// ErrUnknownPhase is returned when a phase ID names no phase of the plan.
var ErrUnknownPhase = errors.New("no such phase")

// Plan is a validated phase tree. It is immutable after New and safe for
// concurrent reads.
type Plan struct {
	roots  []*Phase
	byID   map[string]*Phase
	parent map[string]*Phase
	leaves []*Phase            // in listing order
	deps   map[string][]string // leaf ID -> leaf IDs it waits for
	under  map[string][]*Phase // phase ID -> its leaves (itself for a leaf)
	groups map[string][]*Phase // leaf ID -> enclosing groups, outermost first
}

// New validates the tree and returns the plan. Top-level phases run in the
// order given. It reports every problem at once: malformed or duplicate IDs,
// a child outside its parent's path, a phase with both or neither of Run and
// Children, a Requires naming no phase, and dependency cycles.
func New(phases ...*Phase) (*Plan, error) {
	p := &Plan{
		roots:  phases,
		byID:   map[string]*Phase{},
		parent: map[string]*Phase{},
		deps:   map[string][]string{},
		under:  map[string][]*Phase{},
		groups: map[string][]*Phase{},
	}
	var errs []error
	for _, ph := range phases {
		errs = append(errs, p.index(ph, nil, nil)...)
	}
	if len(errs) == 0 {
		errs = append(errs, p.resolveDeps()...)
	}
	if len(errs) == 0 {
		if err := p.checkCycles(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid plan: %w", errors.Join(errs...))
	}
	return p, nil
}

func (p *Plan) index(ph, parent *Phase, ancestors []*Phase) []error {
	var errs []error
	if err := checkID(ph, parent); err != nil {
		errs = append(errs, err)
	}
	if _, dup := p.byID[ph.ID]; dup {
		errs = append(errs, fmt.Errorf("phase %s is listed twice; give each phase its own ID", ph.ID))
	}
	p.byID[ph.ID] = ph
	p.parent[ph.ID] = parent
	switch {
	case ph.IsGroup() && ph.Run != nil:
		errs = append(errs, fmt.Errorf("phase %s has both Run and Children; a group's work belongs in a child", ph.ID))
	case !ph.IsGroup() && ph.Run == nil:
		errs = append(errs, fmt.Errorf("phase %s has neither Run nor Children", ph.ID))
	}
	if !ph.IsGroup() {
		p.leaves = append(p.leaves, ph)
		p.groups[ph.ID] = append([]*Phase(nil), ancestors...)
		for _, a := range ancestors {
			p.under[a.ID] = append(p.under[a.ID], ph)
		}
		p.under[ph.ID] = []*Phase{ph}
		return errs
	}
	inner := append(append([]*Phase(nil), ancestors...), ph)
	for _, c := range ph.Children {
		errs = append(errs, p.index(c, ph, inner)...)
	}
	return errs
}

func checkID(ph, parent *Phase) error {
	id := ph.ID
	if !strings.HasPrefix(id, "/") || strings.HasSuffix(id, "/") || strings.Contains(id, "//") ||
		strings.ContainsAny(id, " \t\n") {
		return fmt.Errorf("phase ID %q is not a path like /packages/worker-1", id)
	}
	if parent != nil && !strings.HasPrefix(id, parent.ID+"/") {
		return fmt.Errorf("phase %s is a child of %s, so its ID must start with %s/", id, parent.ID, parent.ID)
	}
	return nil
}

// resolveDeps turns Requires (own, inherited from groups, and implicit
// ordering edges) into leaf-to-leaf edges.
func (p *Plan) resolveDeps() []error {
	var errs []error
	for _, leaf := range p.leaves {
		seen := map[string]bool{}
		for _, req := range p.requiresOf(leaf) {
			target, ok := p.under[req]
			if !ok {
				errs = append(errs, fmt.Errorf("phase %s requires %s, which is not in the plan: %w", leaf.ID, req, ErrUnknownPhase))
				continue
			}
			for _, t := range target {
				if t.ID != leaf.ID && !seen[t.ID] {
					seen[t.ID] = true
					p.deps[leaf.ID] = append(p.deps[leaf.ID], t.ID)
				}
			}
		}
	}
	return errs
}

// requiresOf lists every phase ID the leaf waits for: its own and its
// ancestors' Requires, plus the previous sibling of each of them in a
// sequential group (the top level counts as one).
func (p *Plan) requiresOf(leaf *Phase) []string {
	var reqs []string
	for ph := leaf; ph != nil; ph = p.parent[ph.ID] {
		reqs = append(reqs, ph.Requires...)
		if prev := p.previousSibling(ph); prev != nil {
			reqs = append(reqs, prev.ID)
		}
	}
	return reqs
}

func (p *Plan) previousSibling(ph *Phase) *Phase {
	siblings := p.roots
	if parent := p.parent[ph.ID]; parent != nil {
		if !parent.Sequential {
			return nil
		}
		siblings = parent.Children
	}
	for i, s := range siblings {
		if s == ph && i > 0 {
			return siblings[i-1]
		}
	}
	return nil
}

func (p *Plan) checkCycles() error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(id string, path []string) error
	visit = func(id string, path []string) error {
		switch color[id] {
		case grey:
			return fmt.Errorf("phases require each other in a cycle: %s", strings.Join(append(path, id), " -> "))
		case black:
			return nil
		}
		color[id] = grey
		for _, d := range p.deps[id] {
			if err := visit(d, append(path, id)); err != nil {
				return err
			}
		}
		color[id] = black
		return nil
	}
	for _, l := range p.leaves {
		if err := visit(l.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

// Phase returns the phase with the ID, or nil.
func (p *Plan) Phase(id string) *Phase { return p.byID[id] }

// Roots returns the top-level phases in order.
func (p *Plan) Roots() []*Phase { return p.roots }

// Leaves returns the leaves in listing order.
func (p *Plan) Leaves() []*Phase { return p.leaves }

// LeavesUnder returns the leaves of the phase (itself for a leaf).
func (p *Plan) LeavesUnder(id string) []*Phase { return p.under[id] }

// Dependencies returns the leaf IDs the leaf waits for.
func (p *Plan) Dependencies(leafID string) []string { return p.deps[leafID] }

// dependents returns every leaf that (transitively) waits for one of ids.
func (p *Plan) dependents(ids []string) []*Phase {
	hit := map[string]bool{}
	for _, id := range ids {
		hit[id] = true
	}
	changed := true
	for changed {
		changed = false
		for _, l := range p.leaves {
			if hit[l.ID] {
				continue
			}
			for _, d := range p.deps[l.ID] {
				if hit[d] {
					hit[l.ID], changed = true, true
					break
				}
			}
		}
	}
	var out []*Phase
	for _, l := range p.leaves {
		if hit[l.ID] {
			out = append(out, l)
		}
	}
	return out
}
