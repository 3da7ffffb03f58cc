package iox

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFill(t *testing.T) {
	p := make([]byte, 4)
	if n, err := Fill(iotest.OneByteReader(strings.NewReader("abcdef")), p); n != 4 || err != nil || string(p) != "abcd" {
		t.Errorf("full: %d %v %q", n, err, p)
	}
	if n, err := Fill(strings.NewReader("ab"), p); n != 2 || err != io.EOF {
		t.Errorf("short: %d %v", n, err)
	}
	if n, err := Fill(io.MultiReader(strings.NewReader("a"), iotest.ErrReader(io.ErrUnexpectedEOF)), p); n != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut: %d %v, want io.ErrUnexpectedEOF passed on", n, err)
	}
}

// TestContextReader: reads pass through until the context is done, then
// fail with its error.
func TestContextReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := ContextReader(ctx, strings.NewReader("abcdef"))
	p := make([]byte, 3)
	if n, err := r.Read(p); n != 3 || err != nil || string(p) != "abc" {
		t.Fatalf("Read = %d, %v, %q", n, err, p)
	}
	cancel()
	if n, err := r.Read(p); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %d, %v; want 0, context.Canceled", n, err)
	}
}
