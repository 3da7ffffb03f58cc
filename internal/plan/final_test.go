package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// TestFinalIsNotRetried: a phase whose Run returns an error marked Final
// (even wrapped) fails after one call, with the error as it was; its other
// attempts are not made.
func TestFinalIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	cause := errors.New("no route to host")
	ph := &Phase{ID: "/unreachable", Title: "unreachable", Attempts: 3, Run: func(context.Context) error {
		calls.Add(1)
		return fmt.Errorf("dialing h1: %w", Final(cause))
	}}
	p, err := New(ph)
	if err != nil {
		t.Fatal(err)
	}
	e, out := newExec(t, p, t.TempDir())
	err = e.Run(context.Background())
	if !errors.Is(err, cause) || !IsFinal(err) {
		t.Fatalf("Run = %v, want the final error", err)
	}
	if calls.Load() != 1 || strings.Contains(out.String(), "attempt 2/") {
		t.Errorf("%d calls, want 1; progress:\n%s", calls.Load(), out)
	}
	if got := e.Status()["/unreachable"].Error; got != "dialing h1: no route to host" {
		t.Errorf("journal error %q", got)
	}
	if Final(nil) != nil || IsFinal(cause) {
		t.Error("Final(nil) is not nil, or an unmarked error is final")
	}
}
