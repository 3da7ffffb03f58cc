package sshx

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRedactorAddWhileRedacting adds secrets while other goroutines mask
// text holding a secret registered earlier, as the parallel worker joins do
// with their tokens. Every line must come out masked: a secret known before
// a Redact call began is never shown. Run with -race, which also reports any
// unsynchronised access to the secret list.
func TestRedactorAddWhileRedacting(t *testing.T) {
	const early = "sudo-pw-0123456789"
	line := "password is " + early + " ok"
	leaks, rounds := 0, 0
	// A time budget, not a round count: the race detector slows each
	// round a hundredfold.
	deadline := time.Now().Add(2 * time.Second)
	for round := 0; time.Now().Before(deadline); round++ {
		r := NewRedactor(early)
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var buf bytes.Buffer
				w := r.Writer(&buf)
				for {
					select {
					case <-stop:
						return
					default:
					}
					got := r.Redact(line)
					buf.Reset()
					fmt.Fprintln(w, line)
					mu.Lock()
					rounds++
					if strings.Contains(got, early) || strings.Contains(buf.String(), early) {
						leaks++
					}
					mu.Unlock()
				}
			}()
		}
		// Tokens longer and shorter than the early secret, so each Add
		// re-sorts the list around it.
		for i := range 40 {
			r.Add(fmt.Sprintf("%s-%d-%d", strings.Repeat("t", i%30), round, i))
			if i%8 == 0 {
				runtime.Gosched()
			}
		}
		close(stop)
		wg.Wait()
	}
	t.Logf("%d leaks in %d rounds", leaks, rounds)
	if leaks > 0 {
		t.Fatalf("%d of %d masked lines still held a secret registered before they were written", leaks, rounds)
	}
}
