package lockedio

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWritesKeepEveryLine writes whole lines from many goroutines
// through Writer and into Buffer: every line arrives intact (run with
// -race, which also reports any unlocked access).
func TestConcurrentWritesKeepEveryLine(t *testing.T) {
	var plain bytes.Buffer
	var buf Buffer
	sinks := map[string]interface {
		Write([]byte) (int, error)
	}{"Writer": Writer(&plain), "Buffer": &buf}
	for name, w := range sinks {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					w.Write([]byte("0123456789abcdef\n"))
				}
			}()
		}
		wg.Wait()
		text := plain.String()
		if name == "Buffer" {
			text = buf.String()
		}
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if len(lines) != 1600 {
			t.Errorf("%s: %d lines, want 1600", name, len(lines))
		}
		for _, l := range lines {
			if l != "0123456789abcdef" {
				t.Fatalf("%s: a line was torn: %q", name, l)
			}
		}
	}
}
