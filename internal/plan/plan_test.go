package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// tracker records which leaves ran, in order, and how many ran at once.
type tracker struct {
	mu       sync.Mutex
	ran      []string
	running  int
	maxConc  int
	failOnce map[string]bool
	fail     map[string]bool
	delay    time.Duration
}

func newTracker() *tracker {
	return &tracker{failOnce: map[string]bool{}, fail: map[string]bool{}}
}

func (tr *tracker) leaf(id, host string, requires ...string) *Phase {
	return &Phase{ID: id, Title: "do " + id, Host: host, Requires: requires,
		Run: func(ctx context.Context) error {
			tr.mu.Lock()
			tr.ran = append(tr.ran, id)
			tr.running++
			tr.maxConc = max(tr.maxConc, tr.running)
			fail := tr.fail[id] || tr.failOnce[id]
			delete(tr.failOnce, id)
			tr.mu.Unlock()
			defer func() { tr.mu.Lock(); tr.running--; tr.mu.Unlock() }()
			time.Sleep(tr.delay)
			Logf(ctx, "working on %s", id)
			if fail {
				return fmt.Errorf("boom in %s", id)
			}
			return nil
		},
		DryRun: func() []string { return []string{"echo " + id} },
	}
}

func (tr *tracker) ranList() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ran)
}

// hostPlan is: /preflight (a, b, c in parallel), then /packages (a, b, c),
// then /finish on the deploy node.
func hostPlan(t *testing.T, tr *tracker) *Plan {
	t.Helper()
	var pre, pkg []*Phase
	for _, h := range []string{"a", "b", "c"} {
		pre = append(pre, tr.leaf("/preflight/"+h, h))
		pkg = append(pkg, tr.leaf("/packages/"+h, h))
	}
	p, err := New(
		Group("/preflight", "Preflight", pre...),
		Group("/packages", "Packages", pkg...),
		tr.leaf("/finish", ""),
	)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newExec(t *testing.T, p *Plan, dir string) (*Executor, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	e, err := NewExecutor(p, dir, Options{Progress: &syncWriter{w: &out}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, &out
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func TestNewRejectsBadPlans(t *testing.T) {
	run := func(context.Context) error { return nil }
	leaf := func(id string, req ...string) *Phase { return &Phase{ID: id, Run: run, Requires: req} }
	tests := []struct {
		name   string
		phases []*Phase
		want   string
	}{
		{"relative id", []*Phase{leaf("packages")}, `phase ID "packages" is not a path`},
		{"trailing slash", []*Phase{leaf("/packages/")}, "is not a path"},
		{"duplicate", []*Phase{leaf("/a"), leaf("/a")}, "phase /a is listed twice"},
		{"child outside parent", []*Phase{Group("/a", "", leaf("/b/x"))}, "its ID must start with /a/"},
		{"no run", []*Phase{{ID: "/a"}}, "neither Run nor Children"},
		{"both", []*Phase{{ID: "/a", Run: run, Children: []*Phase{leaf("/a/x")}}}, "both Run and Children"},
		{"unknown require", []*Phase{leaf("/a", "/nope")}, "requires /nope, which is not in the plan"},
		{"cycle", []*Phase{Group("/g", "", leaf("/g/x", "/g/y"), leaf("/g/y", "/g/x"))}, "cycle"},
		{"cycle through order", []*Phase{leaf("/a", "/b"), leaf("/b")}, "cycle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.phases...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestRunOrdersPhasesAndJournalsThem(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	dir := t.TempDir()
	e, out := newExec(t, p, dir)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ran := tr.ranList()
	if len(ran) != 7 {
		t.Fatalf("ran %v, want 7 leaves", ran)
	}
	pos := map[string]int{}
	for i, id := range ran {
		pos[id] = i
	}
	for _, h := range []string{"a", "b", "c"} {
		for _, h2 := range []string{"a", "b", "c"} {
			if pos["/preflight/"+h] > pos["/packages/"+h2] {
				t.Errorf("/packages/%s ran before /preflight/%s: %v", h2, h, ran)
			}
		}
	}
	if ran[6] != "/finish" {
		t.Errorf("/finish ran at %d: %v", pos["/finish"], ran)
	}
	st, err := LoadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Leaves() {
		if st.State(l.ID) != Completed || st[l.ID].Attempt != 1 {
			t.Errorf("%s: %+v, want completed attempt 1", l.ID, st[l.ID])
		}
	}
	if !strings.Contains(out.String(), "[b] /packages/b: working on /packages/b") {
		t.Errorf("progress lacks the phase's Logf line:\n%s", out)
	}
	log, err := os.ReadFile(filepath.Join(dir, LogsDir, "b.log"))
	if err != nil || !strings.Contains(string(log), "/packages/b: working on /packages/b") ||
		strings.Contains(string(log), "/packages/a") {
		t.Errorf("host log b.log = %q, %v; want b's lines only", log, err)
	}
}

func TestFailureIsolatesDependentsOnly(t *testing.T) {
	tr := newTracker()
	tr.fail["/hosts/b/packages"] = true
	var hosts []*Phase
	for _, h := range []string{"a", "b", "c"} {
		hosts = append(hosts, Steps("/hosts/"+h, "host "+h,
			tr.leaf("/hosts/"+h+"/packages", h), tr.leaf("/hosts/"+h+"/system", h)))
	}
	p, err := New(Group("/hosts", "per host", hosts...), tr.leaf("/finish", ""))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newExec(t, p, t.TempDir())
	err = e.Run(context.Background())
	var rerr *RunError
	if !errors.As(err, &rerr) {
		t.Fatalf("Run: %v, want *RunError", err)
	}
	if len(rerr.Failures) != 1 || rerr.Failures[0].Phase != "/hosts/b/packages" || rerr.Failures[0].Host != "b" {
		t.Errorf("failures = %+v", rerr.Failures)
	}
	if want := []string{"/hosts/b/system", "/finish"}; !slices.Equal(rerr.NotRun, want) {
		t.Errorf("not run = %v, want %v", rerr.NotRun, want)
	}
	ran := tr.ranList()
	for _, id := range []string{"/hosts/a/system", "/hosts/c/system"} {
		if !slices.Contains(ran, id) {
			t.Errorf("%s did not run although it does not depend on b: %v", id, ran)
		}
	}
	if !strings.Contains(err.Error(), "boom in /hosts/b/packages") || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("error text: %v", err)
	}
	st := e.Status()
	if st.State("/hosts/b/packages") != Failed || st["/hosts/b/packages"].Error == "" {
		t.Errorf("journal: %+v", st["/hosts/b/packages"])
	}
}

func TestResumeSkipsCompletedAndRerunsFailed(t *testing.T) {
	tr := newTracker()
	tr.failOnce["/packages/b"] = true
	p := hostPlan(t, tr)
	dir := t.TempDir()
	e, _ := newExec(t, p, dir)
	if err := e.Run(context.Background()); err == nil {
		t.Fatal("first run succeeded despite a failing phase")
	}
	e.Close()
	first := len(tr.ranList())

	e2, _ := newExec(t, p, dir)
	if err := e2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := tr.ranList()[first:]
	if want := []string{"/packages/b", "/finish"}; !slices.Equal(again, want) {
		t.Errorf("resume ran %v, want %v", again, want)
	}
	if a := e2.Status()["/packages/b"].Attempt; a != 2 {
		t.Errorf("attempt of /packages/b = %d, want 2", a)
	}
}

func TestInProgressPhaseIsRerun(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, l := range p.Leaves()[:4] { // all preflight, /packages/a
		mustAppend(t, j, Record{Phase: l.ID, State: InProgress, Time: now, Attempt: 1})
		mustAppend(t, j, Record{Phase: l.ID, State: Completed, Time: now, Attempt: 1})
	}
	mustAppend(t, j, Record{Phase: "/packages/b", State: InProgress, Time: now, Attempt: 1})
	j.Close()

	e, _ := newExec(t, p, dir)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := tr.ranList(), []string{"/packages/b", "/packages/c", "/finish"}; !sameSet(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
}

func mustAppend(t *testing.T, j *Journal, r Record) {
	t.Helper()
	if err := j.Append(r); err != nil {
		t.Fatal(err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestJournalTornLastLine(t *testing.T) {
	dir := t.TempDir()
	good := `{"phase":"/a","state":"completed","time":"2026-01-01T00:00:00Z","attempt":1}` + "\n"
	tests := []struct {
		name, tail string
	}{
		{"unterminated", `{"phase":"/b","sta`},
		{"terminated garbage", "{\"phase\":\"/b\",\x00\x00\n"},
		{"nothing torn", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			os.MkdirAll(d, 0o700)
			path := filepath.Join(d, JournalFile)
			if err := os.WriteFile(path, []byte(good+tc.tail), 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := LoadStatus(d)
			if err != nil || len(st) != 1 || st.State("/a") != Completed {
				t.Fatalf("LoadStatus = %v, %v", st, err)
			}
			j, err := OpenJournal(d)
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, j, Record{Phase: "/b", State: Completed, Time: time.Now()})
			j.Close()
			st, err = LoadStatus(d)
			if err != nil || st.State("/b") != Completed || st.State("/a") != Completed {
				t.Fatalf("after append: %v, %v", st, err)
			}
			data, _ := os.ReadFile(path)
			if n := strings.Count(string(data), "\n"); n != 2 {
				t.Errorf("journal has %d lines, want 2 (torn tail cut):\n%s", n, data)
			}
		})
	}
}

func TestJournalCorruptMiddleLineIsAnError(t *testing.T) {
	dir := t.TempDir()
	data := "not json\n" + `{"phase":"/a","state":"completed","time":"2026-01-01T00:00:00Z"}` + "\n"
	os.WriteFile(filepath.Join(dir, JournalFile), []byte(data), 0o600)
	_, err := LoadStatus(dir)
	if err == nil || !strings.Contains(err.Error(), JournalFile+":1 is corrupt") {
		t.Fatalf("got %v, want a corrupt-line error naming line 1", err)
	}
}

func TestLockRefusesSecondDeploy(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	dir := t.TempDir()
	newExec(t, p, dir)
	_, err := NewExecutor(p, dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second executor: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
}

func TestParallelismLimit(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			tr := newTracker()
			tr.delay = 20 * time.Millisecond
			var kids []*Phase
			for i := range 8 {
				kids = append(kids, tr.leaf(fmt.Sprintf("/packages/h%d", i), fmt.Sprintf("h%d", i)))
			}
			g := Group("/packages", "Packages", kids...)
			g.Parallel = limit
			p, err := New(g)
			if err != nil {
				t.Fatal(err)
			}
			e, _ := newExec(t, p, t.TempDir())
			if err := e.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if tr.maxConc != limit {
				t.Errorf("at most %d ran at once, want exactly the limit %d", tr.maxConc, limit)
			}
		})
	}
}

func TestForce(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	e, _ := newExec(t, p, t.TempDir())
	ctx := context.Background()
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	n := len(tr.ranList())
	if err := e.RunPhase(ctx, "/packages"); err != nil {
		t.Fatal(err)
	}
	if len(tr.ranList()) != n {
		t.Errorf("RunPhase re-ran completed phases: %v", tr.ranList()[n:])
	}
	if err := e.Force(ctx, "/packages/b", false); err != nil {
		t.Fatal(err)
	}
	if got := tr.ranList()[n:]; !slices.Equal(got, []string{"/packages/b"}) {
		t.Errorf("Force ran %v, want /packages/b only", got)
	}
	n = len(tr.ranList())
	if err := e.Force(ctx, "/packages/b", true); err != nil {
		t.Fatal(err)
	}
	if got := tr.ranList()[n:]; !slices.Equal(got, []string{"/packages/b", "/finish"}) {
		t.Errorf("Force with dependents ran %v, want /packages/b then /finish", got)
	}
	if a := e.Status()["/packages/b"].Attempt; a != 3 {
		t.Errorf("attempt = %d, want 3", a)
	}
	if err := e.Force(ctx, "/nope", false); !errors.Is(err, ErrUnknownPhase) {
		t.Errorf("Force unknown: %v", err)
	}
}

func TestRunPhaseNeedsItsRequirements(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	e, _ := newExec(t, p, t.TempDir())
	err := e.RunPhase(context.Background(), "/packages/a")
	if err == nil || !strings.Contains(err.Error(), "requires /preflight/a, which is unstarted") {
		t.Fatalf("got %v", err)
	}
	if len(tr.ranList()) != 0 {
		t.Errorf("ran %v", tr.ranList())
	}
}

func TestAttemptsRetry(t *testing.T) {
	var calls atomic.Int32
	ph := &Phase{ID: "/flaky", Title: "flaky", Attempts: 2, Run: func(context.Context) error {
		if calls.Add(1) == 1 {
			return errors.New("connection lost")
		}
		return nil
	}}
	p, err := New(ph)
	if err != nil {
		t.Fatal(err)
	}
	e, out := newExec(t, p, t.TempDir())
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || !strings.Contains(out.String(), "attempt 2/2") {
		t.Errorf("calls = %d, progress:\n%s", calls.Load(), out)
	}
}

func TestRender(t *testing.T) {
	tr := newTracker()
	tr.fail["/packages/c"] = true
	p := hostPlan(t, tr)
	e, _ := newExec(t, p, t.TempDir())
	_ = e.Run(context.Background())
	var b bytes.Buffer
	if err := p.Render(&b, e.Status()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := []struct{ prefix, state string }{
		{"PHASE", "STATE"},
		{"/preflight ", "completed"},
		{"  /preflight/a ", "completed"},
		{"  /preflight/b ", "completed"},
		{"  /preflight/c ", "completed"},
		{"/packages ", "failed"},
		{"  /packages/a ", "completed"},
		{"  /packages/b ", "completed"},
		{"  /packages/c ", "failed"},
		{"    error (attempt 1): boom in /packages/c", ""},
		{"/finish ", "unstarted"},
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w.prefix) || !strings.Contains(lines[i], w.state) {
			t.Fatalf("line %d = %q, want prefix %q and %q; table:\n%s", i, lines[i], w.prefix, w.state, b.String())
		}
	}
	b.Reset()
	if err := p.RenderJSON(&b, e.Status()); err != nil {
		t.Fatal(err)
	}
	var views []PhaseView
	if err := json.Unmarshal(b.Bytes(), &views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 3 || views[1].State != Failed || views[1].Children[2].Error != "boom in /packages/c" {
		t.Errorf("JSON view: %s", b.String())
	}
}

func TestDryRunTouchesNothing(t *testing.T) {
	tr := newTracker()
	p := hostPlan(t, tr)
	var b bytes.Buffer
	st := Status{"/preflight/a": {Phase: "/preflight/a", State: Completed}}
	if err := p.WriteDryRun(&b, st); err != nil {
		t.Fatal(err)
	}
	if len(tr.ranList()) != 0 {
		t.Fatalf("dry run ran phases: %v", tr.ranList())
	}
	want := "[a] /preflight/a: do /preflight/a (completed; skipped on --resume)\n    echo /preflight/a\n"
	if !strings.HasPrefix(b.String(), want) || !strings.Contains(b.String(), "[deploy-node] /finish: do /finish\n    echo /finish\n") {
		t.Errorf("dry run output:\n%s", b.String())
	}
}

func TestSecretsAreRedactedInLogsJournalAndErrors(t *testing.T) {
	const secret = "Harbor12345-pw"
	hosts := []string{"m1", "w1"}
	g := ForEach("/login", "registry login", hosts, func(h string) *Phase {
		return &Phase{ID: "/login/" + h, Title: "log in", Host: h, Run: func(ctx context.Context) error {
			Logf(ctx, "docker login -p %s", secret)
			fmt.Fprintf(LogWriter(ctx), "output mentions %s\n", secret)
			if h == "w1" {
				return fmt.Errorf("login with password %s refused", secret)
			}
			return nil
		}}
	})
	p, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var console bytes.Buffer
	e, err := NewExecutor(p, dir, Options{Progress: &syncWriter{w: &console}, Redactor: sshx.NewRedactor(secret)})
	if err != nil {
		t.Fatal(err)
	}
	runErr := e.Run(context.Background())
	if runErr == nil {
		t.Fatal("the failing phase did not fail the run")
	}
	e.Close()
	texts := map[string]string{"console": console.String(), "error": runErr.Error()}
	for _, name := range []string{JournalFile, filepath.Join(LogsDir, "m1.log"), filepath.Join(LogsDir, "w1.log")} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		texts[name] = string(data)
	}
	for name, text := range texts {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains the secret:\n%s", name, text)
		}
		if !strings.Contains(text, sshx.Mask) {
			t.Errorf("%s shows no mask:\n%s", name, text)
		}
	}
}
