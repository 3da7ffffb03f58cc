package template

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/manifest"
)

// The bounds of Render. A template runs in bundle lint, bundle build and
// deploy's /stack, on the deploy node: a bundle author must not be able to
// make any of them spin or run out of memory.
const (
	// MaxTemplateRange is the most iterations one range may take, over an
	// integer or a list.
	MaxTemplateRange = 10000
	// MaxTemplateSteps is the most actions and texts a render executes: a
	// range's body counts once per iteration, a called template once per
	// call.
	MaxTemplateSteps = 1_000_000
	// MaxTemplateString is the longest string a template function may
	// return.
	MaxTemplateString = manifest.MaxManifestSize
	// MaxTemplateBytes is the most bytes the functions of one render may
	// return together.
	MaxTemplateBytes = 16 * manifest.MaxManifestSize
	// maxFormatWidth is the widest width or precision printf may pad to.
	maxFormatWidth = 1024
)

// RenderTimeout is how long a render may take. The limits above bound the
// work well below it; it is the backstop, checked at every range, call,
// function and write.
const RenderTimeout = 10 * time.Second

// LimitError is a render stopped by one of its bounds: the file,
// where in it (name:line:col, when known), the limit and what hit it.
type LimitError struct {
	File  string
	Where string
	Limit string // such as "MaxTemplateRange (10000)"
	What  string
}

func (e *LimitError) Error() string {
	where := e.File
	if e.Where != "" {
		where = e.Where
	}
	return fmt.Sprintf("template %s: %s: over the limit %s", where, e.What, e.Limit)
}

// LimitFix is how to get a template under the limits.
const LimitFix = "bound the template's work: range over the site's lists, not over large numbers, and build no large strings"

// reserved are the functions Render adds to a template's tree; a template
// may not call them itself.
var reserved = []string{"rangeLimit", "callLimit"}

// renderBudget is what one render may still spend. Its functions and the
// hooks instrument adds charge it; the first limit hit stops the render
// (text/template stops at a function's error).
type renderBudget struct {
	steps    int64
	bytes    int64
	deadline time.Time // zero: none
}

func newRenderBudget(deadline time.Time) *renderBudget {
	return &renderBudget{steps: MaxTemplateSteps, bytes: MaxTemplateBytes, deadline: deadline}
}

func limitf(limit, format string, args ...any) *LimitError {
	return &LimitError{Limit: limit, What: fmt.Sprintf(format, args...)}
}

// spend charges n steps and checks the deadline.
func (b *renderBudget) spend(n int64) error {
	if !b.deadline.IsZero() && time.Now().After(b.deadline) {
		return limitf(fmt.Sprintf("RenderTimeout (%s)", RenderTimeout), "the render ran out of time")
	}
	if n < 0 || n > b.steps {
		return limitf(fmt.Sprintf("MaxTemplateSteps (%d)", MaxTemplateSteps), "the template executes more actions than that")
	}
	b.steps -= n
	return nil
}

// produced charges the bytes of a string a function returns.
func (b *renderBudget) produced(n int) error {
	if n > MaxTemplateString {
		return limitf(fmt.Sprintf("MaxTemplateString (%d bytes)", MaxTemplateString), "a function would return a string of %d bytes", n)
	}
	if int64(n) > b.bytes {
		return limitf(fmt.Sprintf("MaxTemplateBytes (%d bytes)", MaxTemplateBytes), "the template's functions return more bytes than that together")
	}
	b.bytes -= int64(n)
	return b.spend(1)
}

// str returns s once its size is charged.
func (b *renderBudget) str(s string) (string, error) {
	if err := b.produced(len(s)); err != nil {
		return "", err
	}
	return s, nil
}

// funcs are Funcs charging b; the built-ins that build strings are
// replaced by capped ones, which size their result before building it.
func (b *renderBudget) funcs() texttemplate.FuncMap {
	sized := func(n int, build func() string) (string, error) {
		if err := b.produced(n); err != nil {
			return "", err
		}
		return build(), nil
	}
	return texttemplate.FuncMap{
		"join": func(sep string, items []string) (string, error) {
			n := len(sep) * max(len(items)-1, 0)
			for _, it := range items {
				n += len(it)
			}
			return sized(n, func() string { return strings.Join(items, sep) })
		},
		"quote": func(s string) (string, error) { return b.str(quote(s)) },
		"indent": func(n int, s string) (string, error) {
			n = max(n, 0)
			if n > MaxTemplateString {
				return "", b.produced(n)
			}
			lines := strings.Count(s, "\n") + 1
			if lines > MaxTemplateString/max(n, 1) {
				return "", b.produced(MaxTemplateString + 1)
			}
			pad := strings.Repeat(" ", n)
			return sized(len(s)+lines*n, func() string { return pad + strings.ReplaceAll(s, "\n", "\n"+pad) })
		},
		"lower": func(s string) (string, error) {
			return sized(len(s)*utf8.UTFMax, func() string { return strings.ToLower(s) })
		},
		"upper": func(s string) (string, error) {
			return sized(len(s)*utf8.UTFMax, func() string { return strings.ToUpper(s) })
		},
		"trim": func(s string) (string, error) { return b.str(strings.TrimSpace(s)) },
		"required": func(msg string, v any) (any, error) {
			switch x := v.(type) {
			case nil:
				return nil, errors.New(msg)
			case string:
				if x == "" {
					return nil, errors.New(msg)
				}
			case []string:
				if len(x) == 0 {
					return nil, errors.New(msg)
				}
			}
			return v, b.spend(1)
		},
		"print": func(args ...any) (string, error) {
			return sized(argsSize(args, 1), func() string { return fmt.Sprint(args...) })
		},
		"println": func(args ...any) (string, error) {
			return sized(argsSize(args, 1)+1, func() string { return fmt.Sprintln(args...) })
		},
		"printf": func(format string, args ...any) (string, error) {
			if err := checkFormat(format); err != nil {
				return "", err
			}
			return sized(len(format)+argsSize(args, 1), func() string { return fmt.Sprintf(format, args...) })
		},
		// The escapers grow their input at most sixfold (&#34;, \u0027).
		"html": func(args ...any) (string, error) {
			return sized(6*argsSize(args, 1), func() string { return texttemplate.HTMLEscaper(args...) })
		},
		"js": func(args ...any) (string, error) {
			return sized(6*argsSize(args, 1), func() string { return texttemplate.JSEscaper(args...) })
		},
		"urlquery": func(args ...any) (string, error) {
			return sized(3*argsSize(args, 1), func() string { return texttemplate.URLQueryEscaper(args...) })
		},
		"rangeLimit": b.rangeLimit,
		"callLimit":  b.callLimit,
	}
}

// argsSize is an upper bound of what fmt prints for args: a string's
// length, and for anything else its printed length (template values other
// than strings are the data's small lists, numbers and booleans), plus sep
// between each.
func argsSize(args []any, sep int) int {
	n := 0
	for _, a := range args {
		switch x := a.(type) {
		case string:
			n += len(x)
		case fmt.Stringer, error:
			n += MaxTemplateString + 1 // not the data's: refuse
		default:
			n += len(fmt.Sprint(x))
		}
		n += sep
	}
	return n
}

// formatWidth matches a printf verb's flags, width and precision.
var formatWidth = regexp.MustCompile(`%[-+# 0]*(\[\d+\])?(\*|\d*)(\.(\[\d+\])?(\*|\d*))?`)

// checkFormat refuses a printf width or precision that is a star or wider
// than maxFormatWidth: fmt pads before anything could be measured.
func checkFormat(f string) error {
	for _, m := range formatWidth.FindAllStringSubmatch(strings.ReplaceAll(f, "%%", ""), -1) {
		for _, w := range []string{m[2], m[5]} {
			if w == "*" {
				return limitf(fmt.Sprintf("printf widths (at most %d, no *)", maxFormatWidth), "printf takes its width from an argument")
			}
			if n, err := strconv.Atoi(w); w != "" && (err != nil || n > maxFormatWidth) {
				return limitf(fmt.Sprintf("printf widths (at most %d, no *)", maxFormatWidth), "printf pads to %s", w)
			}
		}
	}
	return nil
}

// rangeLimit ends every range's pipeline (instrument): it lets v through
// when ranging over it takes at most MaxTemplateRange iterations, charging
// weight steps for each.
func (b *renderBudget) rangeLimit(where string, weight int, v any) (any, error) {
	n, err := rangeCount(v)
	if err == nil && n > MaxTemplateRange {
		err = limitf(fmt.Sprintf("MaxTemplateRange (%d)", MaxTemplateRange), "range over %d items", n)
	}
	if err == nil {
		err = b.spend(max(n, 1) * int64(max(weight, 1)))
	}
	if le := (*LimitError)(nil); errors.As(err, &le) && le.Where == "" {
		le.Where = where
	}
	return v, err
}

// callLimit ends every template call's pipeline (instrument): it charges
// the called template's weight.
func (b *renderBudget) callLimit(where string, weight int, v any) (any, error) {
	err := b.spend(int64(max(weight, 1)))
	if le := (*LimitError)(nil); errors.As(err, &le) && le.Where == "" {
		le.Where = where
	}
	return v, err
}

// rangeCount is how many iterations ranging over v takes: an integer's
// value, a list's or map's length; 0 for anything else (text/template
// refuses to range over it).
func rangeCount(v any) (int64, error) {
	r := reflect.ValueOf(v)
	for r.IsValid() && (r.Kind() == reflect.Pointer || r.Kind() == reflect.Interface) {
		r = r.Elem()
	}
	if !r.IsValid() {
		return 0, nil
	}
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return max(r.Int(), 0), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if r.Uint() > MaxTemplateRange {
			return MaxTemplateRange + 1, nil
		}
		return int64(r.Uint()), nil
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return int64(r.Len()), nil
	case reflect.Func, reflect.Chan:
		return 0, limitf("MaxTemplateRange", "range over a %s, which has no length to check", r.Kind())
	}
	return 0, nil
}

// instrument checks every template of t for what needs no data (no call
// of the reserved names, no range over an integer literal beyond
// MaxTemplateRange), then makes the loops bounded: every range's pipeline
// ends in rangeLimit and every template call's in callLimit, each given
// the weight of what it runs (its body's, or the called template's, node
// count), and the main template's own weight is charged.
func (b *renderBudget) instrument(t *texttemplate.Template) error {
	weights := map[string]int{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Root != nil {
			weights[tt.Name()] = weight(tt.Root)
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Root == nil {
			continue
		}
		in := instrumenter{tree: tt.Tree, weights: weights}
		if err := in.list(tt.Root); err != nil {
			return err
		}
	}
	return b.spend(int64(weights[t.Name()]))
}

type instrumenter struct {
	tree    *parse.Tree
	weights map[string]int
}

func (in *instrumenter) where(n parse.Node) string {
	loc, _ := in.tree.ErrorContext(n)
	return loc
}

func (in *instrumenter) list(l *parse.ListNode) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if err := in.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (in *instrumenter) node(n parse.Node) error {
	switch x := n.(type) {
	case *parse.ActionNode:
		return in.pipe(x.Pipe)
	case *parse.IfNode:
		return in.branch(&x.BranchNode)
	case *parse.WithNode:
		return in.branch(&x.BranchNode)
	case *parse.RangeNode:
		if err := in.branch(&x.BranchNode); err != nil {
			return err
		}
		if err := in.literalRange(x); err != nil {
			return err
		}
		x.Pipe.Cmds = append(x.Pipe.Cmds, in.hook("rangeLimit", x, weight(x.List)+weight(x.ElseList)+1))
	case *parse.TemplateNode:
		if err := in.pipe(x.Pipe); err != nil {
			return err
		}
		if x.Pipe == nil {
			x.Pipe = &parse.PipeNode{NodeType: parse.NodePipe, Pos: x.Pos, Line: x.Line,
				Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: x.Pos, Args: []parse.Node{&parse.DotNode{NodeType: parse.NodeDot, Pos: x.Pos}}}}}
		}
		x.Pipe.Cmds = append(x.Pipe.Cmds, in.hook("callLimit", x, in.weights[x.Name]+1))
	}
	return nil
}

func (in *instrumenter) branch(b *parse.BranchNode) error {
	if err := in.pipe(b.Pipe); err != nil {
		return err
	}
	if err := in.list(b.List); err != nil {
		return err
	}
	return in.list(b.ElseList)
}

// pipe refuses a call of a reserved name anywhere in p.
func (in *instrumenter) pipe(p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch x := a.(type) {
			case *parse.IdentifierNode:
				for _, r := range reserved {
					if x.Ident == r {
						return &LimitError{File: in.tree.ParseName, Where: in.where(x), Limit: "reserved names",
							What: fmt.Sprintf("the template calls %s, which only Render may add", r)}
					}
				}
			case *parse.PipeNode:
				if err := in.pipe(x); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// literalRange refuses, before any data is seen, a range whose pipeline is
// an integer literal beyond MaxTemplateRange.
func (in *instrumenter) literalRange(r *parse.RangeNode) error {
	if len(r.Pipe.Cmds) != 1 || len(r.Pipe.Cmds[0].Args) != 1 {
		return nil
	}
	if num, ok := r.Pipe.Cmds[0].Args[0].(*parse.NumberNode); ok && (!num.IsInt || num.Int64 > MaxTemplateRange) {
		return &LimitError{File: in.tree.ParseName, Where: in.where(r), Limit: fmt.Sprintf("MaxTemplateRange (%d)", MaxTemplateRange),
			What: "range over " + num.Text}
	}
	return nil
}

// hook is the command `| name "where" weight` ending a pipeline of n.
func (in *instrumenter) hook(name string, n parse.Node, weight int) *parse.CommandNode {
	where := in.where(n)
	id := parse.NewIdentifier(name).SetTree(in.tree).SetPos(n.Position())
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Position(), Args: []parse.Node{
		id,
		&parse.StringNode{NodeType: parse.NodeString, Pos: n.Position(), Quoted: strconv.Quote(where), Text: where},
		&parse.NumberNode{NodeType: parse.NodeNumber, Pos: n.Position(), IsInt: true, Int64: int64(weight), Text: strconv.Itoa(weight)},
	}}
}

// weight is the number of nodes under n: what executing it once costs, at
// most (both branches of an if count).
func weight(n parse.Node) int {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return 0
	}
	w := 1
	switch x := n.(type) {
	case *parse.ListNode:
		for _, c := range x.Nodes {
			w += weight(c)
		}
	case *parse.ActionNode:
		w += weight(x.Pipe)
	case *parse.PipeNode:
		for _, c := range x.Cmds {
			w += weight(c)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			w += weight(a)
		}
	case *parse.IfNode:
		w += weight(x.Pipe) + weight(x.List) + weight(x.ElseList)
	case *parse.WithNode:
		w += weight(x.Pipe) + weight(x.List) + weight(x.ElseList)
	case *parse.RangeNode:
		w += weight(x.Pipe) // the body is charged per iteration, by rangeLimit
	case *parse.TemplateNode:
		w += weight(x.Pipe) // the called template is charged per call, by callLimit
	}
	return w
}

// limitHit returns the *LimitError in a render's error, with the
// place text/template names when it has none.
func limitHit(err error) *LimitError {
	var le *LimitError
	if !errors.As(err, &le) {
		return nil
	}
	var ee texttemplate.ExecError
	if errors.As(err, &ee) && le.Where == "" {
		if m := execPlace.FindStringSubmatch(ee.Err.Error()); m != nil {
			le.Where = m[1]
		}
	}
	return le
}

// execPlace is where text/template says an execution failed.
var execPlace = regexp.MustCompile(`^template: (\S+:\d+:\d+):`)

// budgetWriter checks the deadline, and charges a step, at every write,
// then keeps the output in buf, at most max bytes: a write beyond fails.
type budgetWriter struct {
	b   *renderBudget
	buf *bytes.Buffer
	max int
}

func (w *budgetWriter) Write(p []byte) (int, error) {
	if err := w.b.spend(1); err != nil {
		return 0, err
	}
	if w.buf.Len()+len(p) > w.max {
		return 0, fmt.Errorf("larger than %d bytes", w.max)
	}
	return w.buf.Write(p)
}
