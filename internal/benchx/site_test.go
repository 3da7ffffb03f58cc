package benchx

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
)

// siteJournal writes a journal the way a deploy run does, in a state
// directory, and reads it back.
func siteJournal(t *testing.T, steps []step) []plan.Record {
	t.Helper()
	dir := t.TempDir()
	j, err := plan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, s := range steps {
		if err := j.Append(plan.Record{Phase: s.id, State: s.state, Time: t0.Add(s.at)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := plan.ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

type step struct {
	at    time.Duration
	id    string
	state plan.State
}

func run(at, d time.Duration, id string) []step {
	return []step{{at, id, plan.InProgress}, {at + d, id, plan.Completed}}
}

func haSite() []step {
	s := time.Second
	var out []step
	out = append(out, run(0, 2*s, "/verify/bundle")...)
	out = append(out, run(2*s, 1*s, "/seed/serve")...)
	// three hosts' packages in parallel
	out = append(out, run(3*s, 40*s, "/packages/m1")...)
	out = append(out, run(3*s, 50*s, "/packages/m2")...)
	out = append(out, run(4*s, 45*s, "/packages/w1")...)
	out = append(out, step{53 * s, "/kubernetes/init/kubeadm", plan.InProgress}, step{60 * s, "/kubernetes/init/kubeadm", plan.Failed})
	out = append(out, run(62*s, 90*s, "/kubernetes/init/kubeadm")...)
	out = append(out, run(152*s, 30*s, "/kubernetes/masters/m2")...)
	out = append(out, run(182*s, 20*s, "/harbor/load/images")...)
	return out
}

func TestSiteTimes(t *testing.T) {
	st, err := Times(siteJournal(t, haSite()))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Total(); got != 202*time.Second {
		t.Errorf("total = %s, want 3m22s", got)
	}
	var order []string
	for _, s := range st.Top {
		order = append(order, s.ID)
	}
	if got := strings.Join(order, " "); got != "/verify /seed /packages /kubernetes /harbor" {
		t.Errorf("top-level order = %s", got)
	}
	k := st.Top[3]
	if k.Wall() != 129*time.Second || k.Failed != 1 || k.Leaves != 2 || k.Busy != 127*time.Second {
		t.Errorf("/kubernetes = wall %s, failed %d, leaves %d, busy %s; want 2m9s, 1, 2, 2m7s", k.Wall(), k.Failed, k.Leaves, k.Busy)
	}
	p := st.Top[2]
	if p.Wall() != 50*time.Second || p.Busy != 135*time.Second {
		t.Errorf("/packages = wall %s busy %s, want 50s and 2m15s (parallel)", p.Wall(), p.Busy)
	}
	if st.Groups[0].ID != "/kubernetes/init" || st.Leaves[0].ID != "/kubernetes/init/kubeadm" {
		t.Errorf("longest group %s, leaf %s", st.Groups[0].ID, st.Leaves[0].ID)
	}
	if st.Runs != 1 {
		t.Errorf("runs = %d, want 1", st.Runs)
	}
	var out bytes.Buffer
	st.Report(&out, 5)
	for _, want := range []string{
		"deploy: 3m22s from the first phase",
		"| /kubernetes | 2m9s | 64% | 2 | 2m7s | 1 |",
		"| **total** | **3m22s** |",
		"Dominates: /kubernetes, 2m9s of 3m22s (64%); its longest leaf: /kubernetes/init/kubeadm",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSiteTimesResumedAndUnfinished(t *testing.T) {
	s := time.Second
	steps := append(run(0, 10*s, "/verify/bundle"), step{10 * s, "/seed/serve", plan.InProgress}, step{20 * s, "/seed/serve", plan.Failed})
	steps = append(steps, run(5*time.Minute, 5*s, "/seed/serve")...)
	steps = append(steps, step{5*time.Minute + 5*s, "/packages/m1", plan.InProgress})
	st, err := Times(siteJournal(t, steps))
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 2 {
		t.Errorf("runs = %d, want 2", st.Runs)
	}
	if len(st.Unfinished) != 1 || st.Unfinished[0] != "/packages/m1" {
		t.Errorf("unfinished = %v", st.Unfinished)
	}
	var out bytes.Buffer
	st.Report(&out, 0)
	if !strings.Contains(out.String(), "2 runs (resumed)") || !strings.Contains(out.String(), "still in progress") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestSiteTimesEmpty(t *testing.T) {
	if _, err := Times(nil); err == nil {
		t.Fatal("no error for an empty journal")
	}
}
