package iox

import (
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
