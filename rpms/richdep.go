package rpms

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// richNode is a parsed rich (boolean) dependency: a leaf Dep, or an
// operator ("and", "or", "if", "unless", "with", "without") over operands.
// "if"/"unless" may have a third operand, the "else" branch.
type richNode struct {
	op   string
	dep  rpm.Dep
	args []*richNode
}

var richOps = map[string]bool{"and": true, "or": true, "if": true, "unless": true, "with": true, "without": true, "else": true}

// parseRich parses a rich dependency such as "(a >= 1 or (b and c))".
func parseRich(s string) (*richNode, error) {
	toks := tokenizeRich(s)
	n, rest, err := parseRichExpr(toks)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("unexpected %q", rest[0])
	}
	return n, nil
}

// tokenizeRich splits a rich dependency into "(", ")", operators and
// names. A "(" inside a name (a soname like "libfoo.so.1()(64bit)") stays
// part of the name until its matching ")".
func tokenizeRich(s string) []string {
	var out []string
	var cur []byte
	depth := 0 // open parentheses inside cur
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if depth == 0 {
				flush()
			} else {
				cur = append(cur, c)
			}
		case c == '(' && len(cur) == 0:
			out = append(out, "(")
		case c == '(':
			depth++
			cur = append(cur, c)
		case c == ')' && depth > 0:
			depth--
			cur = append(cur, c)
		case c == ')':
			flush()
			out = append(out, ")")
		default:
			cur = append(cur, c)
		}
	}
	flush()
	return out
}

func isCmp(s string) bool {
	switch s {
	case "<", "<=", "=", "==", ">=", ">":
		return true
	}
	return false
}

func parseRichExpr(toks []string) (*richNode, []string, error) {
	if len(toks) == 0 || toks[0] != "(" {
		return nil, nil, fmt.Errorf("expected '('")
	}
	toks = toks[1:]
	first, toks, err := parseRichOperand(toks)
	if err != nil {
		return nil, nil, err
	}
	n := first
	for len(toks) > 0 && toks[0] != ")" {
		op := toks[0]
		if !richOps[op] {
			return nil, nil, fmt.Errorf("unknown operator %q", op)
		}
		var arg *richNode
		if arg, toks, err = parseRichOperand(toks[1:]); err != nil {
			return nil, nil, err
		}
		switch {
		case op == "else" && (n.op == "if" || n.op == "unless") && len(n.args) == 2:
			n.args = append(n.args, arg)
		case op == "else":
			return nil, nil, fmt.Errorf("'else' without 'if' or 'unless'")
		case n.op == op && (op == "and" || op == "or" || op == "with"):
			n.args = append(n.args, arg)
		case n != first:
			return nil, nil, fmt.Errorf("mixed operators %q and %q need parentheses", n.op, op)
		default:
			n = &richNode{op: op, args: []*richNode{first, arg}}
		}
	}
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("missing ')'")
	}
	return n, toks[1:], nil
}

func parseRichOperand(toks []string) (*richNode, []string, error) {
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("missing operand")
	}
	if toks[0] == "(" {
		return parseRichExpr(toks)
	}
	if toks[0] == ")" || richOps[toks[0]] {
		return nil, nil, fmt.Errorf("missing operand before %q", toks[0])
	}
	d := rpm.Dep{Name: toks[0]}
	toks = toks[1:]
	if len(toks) >= 2 && isCmp(toks[0]) {
		d.Flags = senseFromOp(toks[0])
		d.EVR = rpm.ParseEVR(toks[1])
		// rpmbuild allows only these characters in a version and a
		// release, and no empty version; anything else would not survive
		// being written back, so it is refused here too.
		if d.Version == "" || !evrChars(d.Version) || !evrChars(d.Release) {
			return nil, nil, fmt.Errorf("malformed version %q after %q", toks[1], d.Name+" "+toks[0])
		}
		toks = toks[2:]
	}
	return &richNode{dep: d}, toks, nil
}

// evrChars reports whether s holds only the characters rpmbuild accepts
// in a version or release: letters, digits and "._+~^".
func evrChars(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._+~^", r))
	})
}

func senseFromOp(op string) rpm.Sense {
	switch op {
	case "<":
		return rpm.SenseLess
	case "<=":
		return rpm.SenseLess | rpm.SenseEqual
	case "=", "==":
		return rpm.SenseEqual
	case ">=":
		return rpm.SenseGreater | rpm.SenseEqual
	}
	return rpm.SenseGreater
}

// requireRich resolves a rich dependency of from (see Resolve).
func (r *resolver) requireRich(s string, from *choice) {
	n, err := parseRich(s)
	if err != nil {
		r.fail(from, s, "cannot parse rich dependency: "+err.Error())
		return
	}
	r.requireNode(n, s, from)
}

func (r *resolver) requireNode(n *richNode, whole string, from *choice) {
	switch n.op {
	case "":
		r.require(n.dep, from)
	case "and":
		for _, a := range n.args {
			r.requireNode(a, whole, from)
		}
	case "or":
		r.requireOr(n, whole, from)
	case "if", "unless":
		if r.nodeSatisfied(n.args[1]) == (n.op == "if") {
			r.requireNode(n.args[0], whole, from)
		} else if len(n.args) == 3 {
			r.requireNode(n.args[2], whole, from)
		}
	default: // with, without: the left operand
		r.requireNode(n.args[0], whole, from)
	}
}

func (r *resolver) requireOr(n *richNode, whole string, from *choice) {
	for _, a := range n.args {
		if r.nodeSatisfied(a) {
			return
		}
	}
	for _, a := range n.args {
		if r.nodeResolvable(a) {
			r.requireNode(a, whole, from)
			return
		}
	}
	r.fail(from, whole, "no alternative has a provider in "+r.ix.repoIDs()+" or rpmBase")
}

func (r *resolver) nodeSatisfied(n *richNode) bool {
	switch n.op {
	case "":
		return !n.dep.IsRich() && (n.dep.IsRPMLib() || r.satisfied(n.dep))
	case "or":
		for _, a := range n.args {
			if r.nodeSatisfied(a) {
				return true
			}
		}
		return false
	case "and":
		for _, a := range n.args {
			if !r.nodeSatisfied(a) {
				return false
			}
		}
		return true
	}
	return r.nodeSatisfied(n.args[0])
}

func (r *resolver) nodeResolvable(n *richNode) bool {
	switch n.op {
	case "":
		return r.nodeSatisfied(n) || len(r.ix.providers(n.dep)) > 0
	case "or":
		for _, a := range n.args {
			if r.nodeResolvable(a) {
				return true
			}
		}
		return false
	case "and":
		for _, a := range n.args {
			if !r.nodeResolvable(a) {
				return false
			}
		}
		return true
	}
	return r.nodeResolvable(n.args[0])
}
