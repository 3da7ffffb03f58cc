package main

import (
	"strings"
	"testing"
)

func TestPhaseLogSplitsLinesAndFindsTheWriter(t *testing.T) {
	var out strings.Builder
	p := newPhaseLog(&out)
	for _, chunk := range []string{"start img-00\ndone img", "-00\n", "start write bundle b.bundle, 2 GiB\n", "partial"} {
		if n, err := p.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"start img-00", "done img-00", "start write bundle b.bundle, 2 GiB"}
	if len(lines) != len(want) {
		t.Fatalf("got lines %q, want %d lines (the partial one held back)", lines, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "[") || !strings.HasSuffix(lines[i], "] "+w) {
			t.Errorf("line %d = %q, want a time stamp then %q", i, lines[i], w)
		}
	}
	if p.writeStart == 0 {
		t.Error("the write phase start was not noted")
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-f", "m.yaml", "-o", "b", "--cache-dir", "c"}, true},
		{[]string{"-f", "m.yaml", "-o", "b", "--cache-dir", "c", "--registry-mirror", "a=127.0.0.1:1", "--registry-mirror", "b=127.0.0.1:2"}, true},
		{[]string{"-f", "m.yaml", "-o", "b"}, false},
		{[]string{"-o", "b", "--cache-dir", "c"}, false},
		{[]string{"-f", "m.yaml", "--cache-dir", "c"}, false},
	}
	for _, c := range cases {
		cfg, err := parseFlags(c.args)
		if (err == nil) != c.ok {
			t.Errorf("parseFlags(%q): err = %v, want ok=%v", c.args, err, c.ok)
		}
		if c.ok && len(c.args) > 6 && len(cfg.mirrors) != 2 {
			t.Errorf("parseFlags(%q): mirrors %q, want 2", c.args, cfg.mirrors)
		}
	}
}
