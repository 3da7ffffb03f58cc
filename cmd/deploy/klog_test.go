package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestKlogIsEscaped: what client-go logs through klog (it may quote a
// cluster's answer) reaches the terminal with its escape codes made
// visible, not acted on, and nothing goes to stderr behind the writer's
// back (klog copies errors to stderr by default).
func TestKlogIsEscaped(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	var out strings.Builder
	quietKlog(&out)
	klog.Error("watch ended: \x1b]0;owned\x07\x1b[2J")
	klog.Flush()
	os.Stderr = stderr
	quietKlog(io.Discard)
	w.Close()
	raw, _ := io.ReadAll(r)
	got := out.String()
	if !strings.Contains(got, "watch ended") {
		t.Fatalf("klog wrote %q, not to the writer given", got)
	}
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("klog wrote raw escape codes: %q", got)
	}
	if len(raw) > 0 {
		t.Errorf("klog also wrote to stderr: %q", raw)
	}
}
