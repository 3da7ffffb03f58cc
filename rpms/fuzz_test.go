package rpms

import (
	"strings"
	"testing"
)

// The rich dependency parser takes input from repositories on the internet.
// Its fuzz target checks that it never panics and that what it accepts
// survives being written back (see also the metadata readers' targets in
// rpms/repodata). Crashers found by go test -fuzz are kept in
// testdata/fuzz/<target>.
// Run: go test -run='^$' -fuzz='^FuzzRichDep$' -fuzztime=30s ./rpms

// renderRich writes a parsed rich dependency back in rpm's syntax, every
// operator node in parentheses.
func renderRich(n *richNode, top bool) string {
	if n.op == "" {
		if top {
			return "(" + n.dep.String() + ")"
		}
		return n.dep.String()
	}
	var b strings.Builder
	b.WriteString("(")
	for i, a := range n.args {
		if i > 0 {
			op := n.op
			if i == 2 && (n.op == "if" || n.op == "unless") {
				op = "else"
			}
			b.WriteString(" " + op + " ")
		}
		b.WriteString(renderRich(a, false))
	}
	b.WriteString(")")
	return b.String()
}

// FuzzRichDep checks the rich (boolean) dependency parser: no panic, every
// operator node has the operands its operator takes, and parse → render →
// parse → render is stable.
func FuzzRichDep(f *testing.F) {
	for _, s := range []string{
		"(a if b)",
		"(a if b else c)",
		"(a unless b else (c and d))",
		"(libfoo.so.1()(64bit) or foo >= 1:2.0-3)",
		"(a and b and c)",
		"((a with b) without c)",
		"(kernel-modules-extra if (kernel = 5.14 or kernel-rt))",
		"(a or b and c)",
		"(a >= 1.0",
		"()",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseRich(s)
		if err != nil {
			return
		}
		checkRichShape(t, n)
		r1 := renderRich(n, true)
		n2, err := parseRich(r1)
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", s, r1, err)
		}
		if r2 := renderRich(n2, true); r2 != r1 {
			t.Fatalf("%q renders as %q, which renders as %q", s, r1, r2)
		}
	})
}

func checkRichShape(t *testing.T, n *richNode) {
	t.Helper()
	switch n.op {
	case "":
		if n.dep.Name == "" || len(n.args) != 0 {
			t.Fatalf("leaf %+v", n)
		}
		return
	case "if", "unless":
		if len(n.args) != 2 && len(n.args) != 3 {
			t.Fatalf("%q with %d operands", n.op, len(n.args))
		}
	case "without":
		if len(n.args) != 2 {
			t.Fatalf("%q with %d operands", n.op, len(n.args))
		}
	case "and", "or", "with":
		if len(n.args) < 2 {
			t.Fatalf("%q with %d operands", n.op, len(n.args))
		}
	default:
		t.Fatalf("operator %q", n.op)
	}
	for _, a := range n.args {
		checkRichShape(t, a)
	}
}
