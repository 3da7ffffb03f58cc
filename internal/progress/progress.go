// Package progress reports long work item by item: a live view with one line
// per item in flight on a terminal, plain timestamped lines otherwise (CI
// logs), nothing but errors when quiet.
//
// A Reporter is safe for concurrent use by many goroutines.
package progress

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Mode selects how a Reporter prints.
type Mode int

const (
	// Auto picks Live on a terminal and Plain otherwise.
	Auto Mode = iota
	// Live redraws one line per item in flight.
	Live
	// Plain prints one line when an item starts and when it ends.
	Plain
	// Quiet prints only failures.
	Quiet
)

// Reporter tracks items (images, RPMs, files) from start to done.
type Reporter struct {
	mu      sync.Mutex
	w       io.Writer
	mode    Mode
	items   map[string]*item
	order   []string
	drawn   int
	done    int
	total   int
	started time.Time
	ticker  *time.Ticker
	stop    chan struct{}
}

type item struct {
	name  string
	total int64
	n     int64
	since time.Time
}

// New returns a Reporter writing to w. total is the number of items
// expected (0 when unknown); it shows as "i of N".
func New(w io.Writer, mode Mode, total int) *Reporter {
	if mode == Auto {
		mode = Plain
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = Live
		}
	}
	r := &Reporter{w: w, mode: mode, items: map[string]*item{}, total: total, started: time.Now(), stop: make(chan struct{})}
	if mode == Live {
		r.ticker = time.NewTicker(200 * time.Millisecond)
		go r.loop(r.ticker.C)
	}
	return r
}

// Discard is a Reporter that prints nothing.
func Discard() *Reporter { return New(io.Discard, Quiet, 0) }

func (r *Reporter) loop(tick <-chan time.Time) {
	for {
		select {
		case <-tick:
			r.mu.Lock()
			r.redraw()
			r.mu.Unlock()
		case <-r.stop:
			return
		}
	}
}

// AddTotal raises the number of items expected by n, for work that joins
// after the Reporter was made (writing the bundle after the pulls).
func (r *Reporter) AddTotal(n int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.total > 0 {
		r.total += n
	}
	r.mu.Unlock()
}

// Start begins an item. total is its size in bytes (0 when unknown).
func (r *Reporter) Start(id, name string, total int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.items[id]; !ok {
		r.order = append(r.order, id)
	}
	r.items[id] = &item{name: name, total: total, since: time.Now()}
	if r.mode == Plain {
		fmt.Fprintf(r.w, "%s start %s%s\n", r.stamp(), name, sizeNote(total))
	}
}

// Add records n more bytes of progress on an item.
func (r *Reporter) Add(id string, n int64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if it := r.items[id]; it != nil {
		it.n += n
	}
	r.mu.Unlock()
}

// Done ends an item. A non-nil err is always printed, even when quiet.
func (r *Reporter) Done(id string, err error, note string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	it := r.items[id]
	if it == nil {
		it = &item{name: id, since: time.Now()}
	}
	delete(r.items, id)
	r.removeOrder(id)
	r.done++
	line := r.doneLine(it, err, note)
	switch {
	case r.mode == Live:
		r.clear()
		fmt.Fprintln(r.w, line)
		r.redraw()
	case r.mode == Plain || err != nil:
		fmt.Fprintln(r.w, line)
	}
}

// Logf prints a line between the live items (or plainly). Quiet drops it.
func (r *Reporter) Logf(format string, args ...any) {
	if r == nil || r.mode == Quiet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintf(r.w, format+"\n", args...)
	if r.mode == Live {
		r.redraw()
	}
}

// Close stops the live view. It is safe to call more than once.
func (r *Reporter) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ticker != nil {
		r.ticker.Stop()
		close(r.stop)
		r.ticker = nil
		r.clear()
	}
}

func (r *Reporter) doneLine(it *item, err error, note string) string {
	count := fmt.Sprintf("%d", r.done)
	if r.total > 0 {
		count = fmt.Sprintf("%d of %d", r.done, r.total)
	}
	if err != nil {
		return fmt.Sprintf("%s FAIL %s (%s): %v", r.stamp(), it.name, count, err)
	}
	if note != "" {
		note = ", " + note
	}
	return fmt.Sprintf("%s done %s (%s%s%s, %s)", r.stamp(), it.name, count, sizeNote(it.total), note, time.Since(it.since).Round(time.Millisecond))
}

func (r *Reporter) removeOrder(id string) {
	for i, o := range r.order {
		if o == id {
			r.order = append(r.order[:i], r.order[i+1:]...)
			return
		}
	}
}

func (r *Reporter) stamp() string {
	return fmt.Sprintf("[%6.1fs]", time.Since(r.started).Seconds())
}

// clear erases the live lines drawn last time.
func (r *Reporter) clear() {
	if r.mode != Live || r.drawn == 0 {
		return
	}
	fmt.Fprintf(r.w, "\x1b[%dA\x1b[J", r.drawn)
	r.drawn = 0
}

const maxLiveLines = 12

func (r *Reporter) redraw() {
	if r.mode != Live {
		return
	}
	r.clear()
	ids := append([]string(nil), r.order...)
	sort.SliceStable(ids, func(i, j int) bool { return r.items[ids[i]].since.Before(r.items[ids[j]].since) })
	var b strings.Builder
	n := 0
	for _, id := range ids {
		if n == maxLiveLines {
			fmt.Fprintf(&b, "  ... and %d more\n", len(ids)-n)
			n++
			break
		}
		it := r.items[id]
		fmt.Fprintf(&b, "  %s %s\n", bar(it.n, it.total), it.name)
		n++
	}
	fmt.Fprint(r.w, b.String())
	r.drawn = n
}

func bar(n, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("[%10s]", HumanBytes(n))
	}
	const width = 20
	filled := int(n * width / total)
	filled = min(max(filled, 0), width)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), n*100/total)
}

func sizeNote(total int64) string {
	if total <= 0 {
		return ""
	}
	return ", " + HumanBytes(total)
}

// HumanBytes renders a byte count in binary units: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
