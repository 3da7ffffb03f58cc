package decode

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

// ErrorList is every problem found in one pass, sorted by position.
// manifest.Parse and lint.Check report all problems at once, one per line,
// rather than stopping at the first. Use errors.As to get the list, or to get the first *Error.
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

// MaxErrors bounds the problems one pass (manifest.Parse, lint.Check) reports: the first
// MaxErrors found are listed, sorted by position, followed by one line
// saying how many more there are. A manifest that names a long image list
// twice would otherwise give one error per image, each allocated, and an
// error text of hundreds of megabytes.
const MaxErrors = 50

// maxQuoted bounds each string or error quoted into an error message, so
// a megabyte-long value is not echoed back whole.
const maxQuoted = 200

// Errors collects the problems of one pass: the first MaxErrors, and a
// count of the rest, which are neither formatted nor kept.
type Errors struct {
	File string // named by the "more problems" line
	list ErrorList
	more int
}

// Add records a problem at p, formatted, each string or error argument
// clipped to about maxQuoted bytes; past MaxErrors it is only counted.
func (s *Errors) Add(p Pos, fix, format string, args ...any) {
	if len(s.list) >= MaxErrors {
		s.more++
		return
	}
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = clip(v)
		case error:
			if msg := v.Error(); len(msg) > maxQuoted {
				args[i] = clip(msg)
			}
		}
	}
	s.list = append(s.list, &Error{Pos: p, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// Err returns nil when nothing was added, and otherwise the list sorted by
// position, with a last entry counting the problems left out.
func (s *Errors) Err() error {
	if len(s.list) == 0 {
		return nil
	}
	l := s.list
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	if s.more > 0 {
		l = append(l, &Error{Pos: Pos{File: s.File},
			Msg: fmt.Sprintf("and %d more problems, not listed (only the first %d are)", s.more, MaxErrors),
			Fix: "fix those above and run again"})
	}
	return l
}

// clip shortens s to about maxQuoted bytes for an error message, saying
// how long it was.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return strings.ToValidUTF8(s[:maxQuoted], "") + fmt.Sprintf("...(%d bytes)", len(s))
}
