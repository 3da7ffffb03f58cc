package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a manifest or in a file the manifest names.
type Pos struct {
	File   string // as the user named it (the path given to Load, or a path derived from it)
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
}

// String formats the position as file:line, the form editors jump to.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is one problem in a manifest: where it is, what is wrong, and how to
// fix it. Its text is "file:line: message; fix".
type Error struct {
	Pos Pos
	Msg string
	Fix string // may be empty when the message says it all
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ErrorList is every problem found in one pass, sorted by position. Parse and
// Lint report all problems at once, one per line, rather than stopping at
// the first. Use errors.As to get the list, or to get the first *Error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual errors, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns nil for an empty list and the sorted list otherwise.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return l
}

func (l *ErrorList) add(p Pos, fix, format string, args ...any) {
	*l = append(*l, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Fix: fix})
}
