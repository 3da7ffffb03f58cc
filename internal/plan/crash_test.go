package plan

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a plan in a child process (this test binary re-executed),
// SIGKILLs it in the middle of a phase, resumes in this process, and checks
// that the result equals an uninterrupted run.

const (
	envCrashState = "PLAN_CRASH_STATE"
	envCrashOut   = "PLAN_CRASH_OUT"
	envCrashAt    = "PLAN_CRASH_AT"
)

// filePlan writes files into out; each leaf is idempotent (it rewrites its
// files whole) and half-writes before it may block at blockAt, so a kill
// leaves a half-finished host behind.
func filePlan(t testing.TB, out, blockAt string) *Plan {
	leaf := func(id, host string) *Phase {
		name := strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_")
		return &Phase{ID: id, Title: "write " + name, Host: host, Run: func(ctx context.Context) error {
			path := filepath.Join(out, name)
			if err := os.WriteFile(path, []byte("partial"), 0o644); err != nil {
				return err
			}
			if id == blockAt {
				if err := os.WriteFile(filepath.Join(out, "blocked"), nil, 0o644); err != nil {
					return err
				}
				time.Sleep(time.Minute) // killed here
			}
			return os.WriteFile(path, []byte("done "+id+"\n"), 0o644)
		}}
	}
	p, err := New(
		leaf("/verify", ""),
		Group("/packages", "packages", leaf("/packages/m1", "m1"), leaf("/packages/w1", "w1")),
		Group("/system", "system", leaf("/system/m1", "m1"), leaf("/system/w1", "w1")),
		leaf("/finish", ""),
	)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	state := os.Getenv(envCrashState)
	if state == "" {
		t.Skip("helper process for TestKillAndResume")
	}
	p := filePlan(t, os.Getenv(envCrashOut), os.Getenv(envCrashAt))
	e, err := NewExecutor(p, state, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestKillAndResume(t *testing.T) {
	ref := t.TempDir()
	refOut := filepath.Join(ref, "out")
	os.Mkdir(refOut, 0o755)
	runToEnd(t, filePlan(t, refOut, ""), filepath.Join(ref, "state"))
	want := snapshot(t, refOut)

	for _, leaf := range filePlan(t, refOut, "").Leaves() {
		t.Run(strings.ReplaceAll(leaf.ID, "/", "_"), func(t *testing.T) {
			dir := t.TempDir()
			out, state := filepath.Join(dir, "out"), filepath.Join(dir, "state")
			os.Mkdir(out, 0o755)
			killMidPhase(t, state, out, leaf.ID)
			st, err := LoadStatus(state)
			if err != nil {
				t.Fatal(err)
			}
			if st.State(leaf.ID) != InProgress {
				t.Fatalf("after the kill %s is %s, want in_progress", leaf.ID, st.State(leaf.ID))
			}
			os.Remove(filepath.Join(out, "blocked"))
			runToEnd(t, filePlan(t, out, ""), state)
			if got := snapshot(t, out); got != want {
				t.Errorf("after kill at %s and resume:\n%s\nwant (uninterrupted run):\n%s", leaf.ID, got, want)
			}
		})
	}
}

func killMidPhase(t *testing.T, state, out, at string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashState+"="+state, envCrashOut+"="+out, envCrashAt+"="+at)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, "blocked")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child never reached phase %s", at)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func runToEnd(t *testing.T, p *Plan, state string) {
	t.Helper()
	e, err := NewExecutor(p, state, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Leaves() {
		if s := e.Status().State(l.ID); s != Completed {
			t.Errorf("%s is %s after the run", l.ID, s)
		}
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %q\n", e.Name(), data)
	}
	return b.String()
}
