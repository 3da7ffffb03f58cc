package benchx

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
)

// Span is the wall time of a phase or group of phases in a deploy's
// journal: from the first time one of its leaves started to the last time
// one ended, with the sum of its leaves' own times (Busy, more than the
// wall time when leaves ran in parallel).
type Span struct {
	ID     string
	Start  time.Time
	End    time.Time
	Busy   time.Duration
	Leaves int
	Failed int // attempts that failed
}

// Wall is End - Start.
func (s Span) Wall() time.Duration { return s.End.Sub(s.Start) }

// SiteTimes is what a deploy's journal says about where its time went.
type SiteTimes struct {
	Start, End time.Time
	Top        []Span // top-level phases ("/kubernetes"), by start
	Groups     []Span // second-level groups ("/kubernetes/init"), longest first
	Leaves     []Span // leaves, longest first
	Runs       int    // deploy runs seen (a resume starts a new one)
	Unfinished []string
}

// Total is the time from the first phase started to the last one ended.
func (t *SiteTimes) Total() time.Duration { return t.End.Sub(t.Start) }

// Times reads a deploy journal's records (plan.ReadJournal) into spans. An
// attempt is an in_progress record followed by the same phase's completed
// or failed one; a leaf still in progress at the end is listed in
// Unfinished and counted up to the last record.
func Times(recs []plan.Record) (*SiteTimes, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("the journal has no records: the deploy never started a phase")
	}
	t := &SiteTimes{Start: recs[0].Time, End: recs[0].Time}
	open := map[string]time.Time{}
	leaves := map[string]*Span{}
	lastEnd := time.Time{}
	for _, r := range recs {
		if r.Time.Before(t.Start) {
			t.Start = r.Time
		}
		if r.Time.After(t.End) {
			t.End = r.Time
		}
		switch r.State {
		case plan.InProgress:
			if len(open) == 0 && !lastEnd.IsZero() && r.Time.Sub(lastEnd) > resumeGap {
				t.Runs++
			}
			open[r.Phase] = r.Time
		case plan.Completed, plan.Failed:
			start, ok := open[r.Phase]
			if !ok {
				start = r.Time // completed without a start (forced): no time
			}
			delete(open, r.Phase)
			addAttempt(leaves, r.Phase, start, r.Time, r.State == plan.Failed)
			lastEnd = r.Time
		}
	}
	t.Runs++
	for id, start := range open {
		t.Unfinished = append(t.Unfinished, id)
		addAttempt(leaves, id, start, t.End, false)
	}
	sort.Strings(t.Unfinished)
	t.Leaves = sortedSpans(leaves, false)
	t.Top = sortedSpans(rollUp(leaves, 1), true)
	t.Groups = sortedSpans(rollUp(leaves, 2), false)
	return t, nil
}

// resumeGap is how long no phase may run before the next start counts as a
// new deploy run (a resume after a failure).
const resumeGap = 30 * time.Second

func addAttempt(m map[string]*Span, id string, start, end time.Time, failed bool) {
	s := m[id]
	if s == nil {
		s = &Span{ID: id, Start: start, End: end, Leaves: 1}
		m[id] = s
	}
	if start.Before(s.Start) {
		s.Start = start
	}
	if end.After(s.End) {
		s.End = end
	}
	s.Busy += end.Sub(start)
	if failed {
		s.Failed++
	}
}

// rollUp groups leaves by the first depth segments of their IDs.
func rollUp(leaves map[string]*Span, depth int) map[string]*Span {
	out := map[string]*Span{}
	for id, l := range leaves {
		g := prefix(id, depth)
		s := out[g]
		if s == nil {
			s = &Span{ID: g, Start: l.Start, End: l.End}
			out[g] = s
		}
		if l.Start.Before(s.Start) {
			s.Start = l.Start
		}
		if l.End.After(s.End) {
			s.End = l.End
		}
		s.Busy += l.Busy
		s.Leaves++
		s.Failed += l.Failed
	}
	return out
}

// prefix is "/a/b" for prefix("/a/b/c", 2).
func prefix(id string, depth int) string {
	parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(parts) > depth {
		parts = parts[:depth]
	}
	return "/" + strings.Join(parts, "/")
}

// sortedSpans lists m by start (byStart) or longest wall time first.
func sortedSpans(m map[string]*Span, byStart bool) []Span {
	out := make([]Span, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if byStart && !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		if !byStart && out[i].Wall() != out[j].Wall() {
			return out[i].Wall() > out[j].Wall()
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Report writes the tables: the top-level phases in order with their
// share of the total, the longest groups, the longest leaves, and what
// dominates.
func (t *SiteTimes) Report(w io.Writer, top int) {
	total := t.Total()
	fmt.Fprintf(w, "deploy: %s from the first phase started (%s) to the last one ended (%s)",
		round(total), t.Start.UTC().Format(time.RFC3339), t.End.UTC().Format(time.RFC3339))
	if t.Runs > 1 {
		fmt.Fprintf(w, "; %d runs (resumed), pauses between them included", t.Runs)
	}
	fmt.Fprintln(w)
	if len(t.Unfinished) > 0 {
		fmt.Fprintf(w, "still in progress at the last record: %s\n", strings.Join(t.Unfinished, ", "))
	}
	fmt.Fprintf(w, "\n| phase | wall | share | leaves | busy (sum of leaves) | failed attempts |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range t.Top {
		spanRow(w, s, total)
	}
	fmt.Fprintf(w, "| **total** | **%s** | 100%% | | | |\n", round(total))
	fmt.Fprintf(w, "\nLongest groups:\n\n| group | wall | share | leaves | busy | failed attempts |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range head(t.Groups, top) {
		spanRow(w, s, total)
	}
	fmt.Fprintf(w, "\nLongest leaves:\n\n| leaf | wall | share | attempts' time | failed attempts |\n| --- | --- | --- | --- | --- |\n")
	for _, s := range head(t.Leaves, top) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", s.ID, round(s.Wall()), share(s.Wall(), total), round(s.Busy), s.Failed)
	}
	if d := t.dominant(); d.ID != "" {
		fmt.Fprintf(w, "\nDominates: %s, %s of %s (%s); its longest leaf: %s (%s)\n",
			d.ID, round(d.Wall()), round(total), share(d.Wall(), total), t.longestUnder(d.ID).ID, round(t.longestUnder(d.ID).Wall()))
	}
}

func spanRow(w io.Writer, s Span, total time.Duration) {
	fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %d |\n", s.ID, round(s.Wall()), share(s.Wall(), total), s.Leaves, round(s.Busy), s.Failed)
}

// dominant is the top-level phase with the longest wall time.
func (t *SiteTimes) dominant() Span {
	var d Span
	for _, s := range t.Top {
		if s.Wall() > d.Wall() {
			d = s
		}
	}
	return d
}

func (t *SiteTimes) longestUnder(id string) Span {
	for _, l := range t.Leaves { // longest first
		if strings.HasPrefix(l.ID, id+"/") || l.ID == id {
			return l
		}
	}
	return Span{}
}

func head(s []Span, n int) []Span {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

func share(d, total time.Duration) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(total))
}
