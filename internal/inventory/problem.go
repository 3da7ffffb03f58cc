package inventory

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with an inventory, where it is, and the fix.
type Problem struct {
	File    string
	Line    int    // 0 when unknown
	Field   string // path of the field, such as hosts[2].address
	Message string
	Fix     string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString("; " + p.Fix)
	}
	return b.String()
}

// ValidationError lists every problem found in an inventory. Load returns it
// (use errors.As) when the inventory cannot be used.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("inventory %s has %d problem(s):", e.File, len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}
