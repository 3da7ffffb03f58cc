package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPlainLinesCountItems(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, Plain, 2)
	r.Start("a", "image a", 2048)
	r.Add("a", 2048)
	r.Done("a", nil, "3 layers")
	r.Start("b", "image b", 0)
	r.Done("b", errors.New("boom"), "")
	r.Close()
	out := b.String()
	for _, want := range []string{"start image a, 2.0 KiB", "done image a (1 of 2, 2.0 KiB, 3 layers", "FAIL image b (2 of 2): boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestQuietPrintsOnlyFailures(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, Quiet, 0)
	r.Start("a", "image a", 1)
	r.Done("a", nil, "")
	r.Logf("hello")
	r.Start("b", "image b", 1)
	r.Done("b", errors.New("broken"), "")
	if got := b.String(); strings.Contains(got, "image a") || strings.Contains(got, "hello") || !strings.Contains(got, "broken") {
		t.Fatalf("quiet output wrong:\n%s", got)
	}
}

func TestLiveRedrawsAndClears(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, Live, 1)
	r.Start("a", "image a", 100)
	r.Add("a", 50)
	r.mu.Lock()
	r.redraw()
	r.mu.Unlock()
	if !strings.Contains(b.String(), " 50% image a") {
		t.Fatalf("live view lacks the item's bar:\n%q", b.String())
	}
	r.Done("a", nil, "")
	r.Close()
	if !strings.Contains(b.String(), "\x1b[1A\x1b[J") {
		t.Fatalf("live view never erased its line:\n%q", b.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
