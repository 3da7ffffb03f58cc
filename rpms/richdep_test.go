package rpms

import "testing"

func TestParseRich(t *testing.T) {
	cases := []struct {
		in, op string
		n      int
	}{
		{"(a or b)", "or", 2},
		{"(libfoo.so.1()(64bit) or bar >= 2.0 or baz)", "or", 3},
		{"((a and b) or c)", "or", 2},
		{"(a if b else c)", "if", 3},
		{"(a unless b)", "unless", 2},
	}
	for _, c := range cases {
		n, err := parseRich(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if n.op != c.op || len(n.args) != c.n {
			t.Errorf("%s: op %q with %d args, want %q with %d", c.in, n.op, len(n.args), c.op, c.n)
		}
	}
	n, _ := parseRich("(libfoo.so.1()(64bit) or bar >= 2.0)")
	if got := n.args[0].dep.Name; got != "libfoo.so.1()(64bit)" {
		t.Errorf("soname operand = %q", got)
	}
	if got := n.args[1].dep.String(); got != "bar >= 2.0" {
		t.Errorf("versioned operand = %q", got)
	}
	for _, ok := range []string{"(a >= 1:2.0~rc1-3.el7 or b = 1.0^git1)", "(a = 1.0_2+b)"} {
		if _, err := parseRich(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"(a or", "(a or b and c)", "(a xor b)", "a or b",
		"(a = --)", "(a = -1)", "(a >= 0:()() or b)", "(a = 1.0-1-2)"} {
		if _, err := parseRich(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}
