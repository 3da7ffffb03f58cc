package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/factory-appliance/appliance/internal/termtext"
)

// GroupState folds the states of the leaves under a phase: failed if any
// failed, completed if all completed, in_progress if any started, else
// unstarted.
func (p *Plan) GroupState(id string, st Status) State {
	var started, completed, n int
	for _, l := range p.under[id] {
		n++
		switch st.State(l.ID) {
		case Failed:
			return Failed
		case Completed:
			completed++
			started++
		case InProgress:
			started++
		}
	}
	switch {
	case n > 0 && completed == n:
		return Completed
	case started > 0:
		return InProgress
	}
	return Unstarted
}

// Render writes the phase tree as a table (phase, host, state, last change),
// like `gravity plan`, with the error of each failed phase under it.
func (p *Plan) Render(w io.Writer, st Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tHOST\tSTATE\tUPDATED\tDESCRIPTION")
	for _, r := range p.roots {
		p.renderPhase(tw, r, st, 0)
	}
	return tw.Flush()
}

func (p *Plan) renderPhase(w io.Writer, ph *Phase, st Status, depth int) {
	indent := strings.Repeat("  ", depth)
	host, updated := ph.Host, "-"
	if host == "" {
		host = "-"
	}
	if rec, ok := st[ph.ID]; ok && !ph.IsGroup() {
		updated = rec.Time.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\t%s\n", indent, termtext.Line(ph.ID), termtext.Line(host), p.GroupState(ph.ID, st), updated, termtext.Line(ph.Title))
	if rec, ok := st[ph.ID]; ok && rec.State == Failed && rec.Error != "" {
		msg := termtext.Line(strings.ReplaceAll(rec.Error, "\n", " "))
		fmt.Fprintf(w, "%s  error (attempt %d): %s\t\t\t\t\n", indent, rec.Attempt, msg)
	}
	for _, c := range ph.Children {
		p.renderPhase(w, c, st, depth+1)
	}
}

// PhaseView is the JSON form of a phase and its state.
type PhaseView struct {
	ID       string      `json:"id"`
	Title    string      `json:"title"`
	Host     string      `json:"host,omitempty"`
	State    State       `json:"state"`
	Requires []string    `json:"requires,omitempty"`
	Attempt  int         `json:"attempt,omitempty"`
	Updated  *time.Time  `json:"updated,omitempty"`
	Error    string      `json:"error,omitempty"`
	Children []PhaseView `json:"children,omitempty"`
}

// View returns the tree with states, for JSON output.
func (p *Plan) View(st Status) []PhaseView {
	out := make([]PhaseView, 0, len(p.roots))
	for _, r := range p.roots {
		out = append(out, p.view(r, st))
	}
	return out
}

func (p *Plan) view(ph *Phase, st Status) PhaseView {
	v := PhaseView{ID: ph.ID, Title: ph.Title, Host: ph.Host, State: p.GroupState(ph.ID, st), Requires: ph.Requires}
	if rec, ok := st[ph.ID]; ok && !ph.IsGroup() {
		t := rec.Time
		v.Updated, v.Attempt, v.Error = &t, rec.Attempt, rec.Error
	}
	for _, c := range ph.Children {
		v.Children = append(v.Children, p.view(c, st))
	}
	return v
}

// RenderJSON writes View(st) as indented JSON. The values are exact; the
// characters a terminal would act on are \u escapes (termtext.JSON).
func (p *Plan) RenderJSON(w io.Writer, st Status) error {
	b, err := json.MarshalIndent(p.View(st), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termtext.JSON(b), '\n'))
	return err
}

// WriteDryRun prints, for each leaf in an order the executor could run them,
// the host and the commands it would run, touching nothing. Leaves that st
// shows completed are marked as skipped (st may be nil).
func (p *Plan) WriteDryRun(w io.Writer, st Status) error {
	for _, l := range p.order() {
		host := l.Host
		if host == "" {
			host = deployNodeLog
		}
		skip := ""
		if st.State(l.ID) == Completed {
			skip = " (completed; skipped on --resume)"
		}
		if _, err := fmt.Fprintf(w, "[%s] %s: %s%s\n", termtext.Line(host), termtext.Line(l.ID), termtext.Line(l.Title), skip); err != nil {
			return err
		}
		cmds := []string{"(no commands listed)"}
		if l.DryRun != nil {
			cmds = l.DryRun()
		}
		for _, c := range cmds {
			if _, err := fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(termtext.Escape(c), "\n", "\n    ")); err != nil {
				return err
			}
		}
	}
	return nil
}

// order returns the leaves in a topological order that keeps listing order
// where dependencies allow.
func (p *Plan) order() []*Phase {
	done := map[string]bool{}
	var out []*Phase
	for len(out) < len(p.leaves) {
		for _, l := range p.leaves {
			if done[l.ID] {
				continue
			}
			ready := true
			for _, d := range p.deps[l.ID] {
				ready = ready && done[d]
			}
			if ready {
				done[l.ID] = true
				out = append(out, l)
			}
		}
	}
	return out
}
