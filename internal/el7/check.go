package el7

import (
	"fmt"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Style is how a tool spells its options.
type Style int

const (
	// GNU is getopt_long: -abc clusters single letters, a letter's
	// argument is the rest of its word or the next word, --name[=value]
	// (or a unique prefix of name), and "--" ends the options.
	GNU Style = iota
	// NoCluster is single-letter options, each a word of its own, with
	// any argument in the next word (haproxy 1.5).
	NoCluster
	// SingleDash is -name options (openssl, ip); Abbrev on the tool lets a
	// prefix of a name stand for it, the first in table order (ip's
	// matches()).
	SingleDash
	// GoFlag is Go's flag package (urfave/cli: ctr, containerd): -name or
	// --name, its value after "=" or in the next word.
	GoFlag
	// Lenient is a shell builtin that takes a word it does not know as an
	// operand, even one starting with "-" (echo -1, test -f).
	Lenient
	// Operands is a tool or subcommand that takes no options: every word
	// is an operand (ip route replace PREFIX dev DEV).
	Operands
)

// Wrap says whether a tool runs another command.
type Wrap int

const (
	// NoWrap runs nothing else.
	NoWrap Wrap = iota
	// RunsCommand runs its operands as a command (sudo, exec).
	RunsCommand
	// RunsScript runs the operand after -c as a shell script (sh, bash).
	RunsScript
	// RunsFlock is flock: "flock FD", "flock FILE CMD ARGS...", or
	// "flock FILE -c SCRIPT".
	RunsFlock
)

// Tool is one program a host runs, as the version CentOS 7.9 ships has it
// (or, for a subcommand, that subcommand of it).
type Tool struct {
	// Name is the command (its base name) or the subcommand.
	Name string
	// Package is the EL7 package that installs it, or "bundle: ..." for a
	// program the bundle's RPMs bring, or "bash (builtin)".
	Package string
	// Version is the upstream version CentOS 7.9 ships.
	Version string
	// Source is where the options were read: the version's source file,
	// man page or NEWS (repository@tag:path, or a URL).
	Source string

	// Short is the getopt string of the single-letter options: a letter,
	// ":" after one that takes an argument, "::" after an optional one.
	// A leading "+" stops option parsing at the first operand.
	Short string
	// Long lists the long options: "name", "name=" (takes an argument),
	// "name=?" (optional argument, only after "=").
	Long  []string
	Style Style
	// StopAtOperand ends the options at the first operand (as a leading
	// "+" in Short does).
	StopAtOperand bool

	// Sub are the subcommands: the first operand picks one, and the words
	// after it are parsed with its options and those of the tools above.
	Sub []*Tool
	// Abbrev accepts a prefix of a subcommand or option name for the first
	// in table order that it starts (ip's matches()).
	Abbrev bool

	Wrap Wrap
	// NoWrapWith lists option letters that stop Wrap (command -v X only
	// looks X up).
	NoWrapWith string

	// Rules are known pitfalls of this version beyond a missing option,
	// each with its source.
	Rules []Rule

	// Note explains a choice in the table, when there is one to explain.
	Note string
}

// Rule is a pitfall of a tool's EL7 version: Bad reports, for the words
// after the tool's name (dynamic words as ""), why they fail on EL7, or "".
type Rule struct {
	Bad func(words []string) string
}

// Problem is one thing in a command that CentOS 7.9 cannot run as meant.
type Problem struct {
	Command string // the command as given to Check
	Tool    string // the program concerned, "" for the shell itself
	Msg     string
}

func (p Problem) Error() string {
	if p.Tool == "" {
		return fmt.Sprintf("%s (in %q)", p.Msg, p.Command)
	}
	return fmt.Sprintf("%s: %s (in %q)", p.Tool, p.Msg, p.Command)
}

// Lookup returns the table's tool called name (a base name), or nil.
func Lookup(name string) *Tool {
	for _, t := range Tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// maxDepth bounds how deep shells started by shells are followed.
const maxDepth = 8

// Check parses cmd as a POSIX shell command line and returns every program
// in it that is not in the table, and every option, subcommand or pitfall
// its CentOS 7.9 version does not have, following sh -c, bash -c, sudo,
// flock and exec into the commands they run.
func Check(cmd string) []Problem {
	c := &checker{top: cmd}
	c.script(cmd, nil, 0)
	return c.problems
}

type checker struct {
	top      string
	problems []Problem
}

func (c *checker) add(tool, format string, args ...any) {
	c.problems = append(c.problems, Problem{Command: c.top, Tool: tool, Msg: fmt.Sprintf(format, args...)})
}

// arg is one word of a command: its value, when it is a literal.
type arg struct {
	val string
	lit bool
	// prefix is the literal start of a word that is not all literal.
	prefix string
}

func (c *checker) script(src string, probed map[string]bool, depth int) {
	if depth > maxDepth {
		c.add("", "shells nested deeper than %d", maxDepth)
		return
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(src), "")
	if err != nil {
		c.add("", "does not parse as a POSIX sh command line (EL7's sh is bash 4.2, the Debian test hosts' is dash): %v", err)
		return
	}
	c.walk(f, probed, depth)
}

// walk checks every command under n. In "if TOOL --help | grep -q -e OPT;
// then ...; fi" the then-branch may use OPT of TOOL: the host is asked
// first whether its TOOL has it.
func (c *checker) walk(n syntax.Node, probed map[string]bool, depth int) {
	syntax.Walk(n, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.IfClause:
			for _, s := range x.Cond {
				c.walk(s, probed, depth)
			}
			then := probed
			if g := probeGuard(x.Cond); g != "" {
				then = map[string]bool{g: true}
				for k := range probed {
					then[k] = true
				}
			}
			for _, s := range x.Then {
				c.walk(s, then, depth)
			}
			if x.Else != nil {
				c.walk(x.Else, probed, depth)
			}
			return false
		case *syntax.CallExpr:
			if len(x.Args) > 0 {
				args := make([]arg, len(x.Args))
				for i, w := range x.Args {
					args[i] = wordArg(w)
				}
				c.argv(args, probed, depth)
			}
		}
		return true
	})
}

// probeGuard recognises "TOOL --help ... | grep ... -OPT" as the condition
// of an if, and returns "TOOL -OPT".
func probeGuard(cond []*syntax.Stmt) string {
	if len(cond) != 1 {
		return ""
	}
	pipe, ok := cond[0].Cmd.(*syntax.BinaryCmd)
	if !ok || pipe.Op != syntax.Pipe {
		return ""
	}
	left, ok1 := pipe.X.Cmd.(*syntax.CallExpr)
	right, ok2 := pipe.Y.Cmd.(*syntax.CallExpr)
	if !ok1 || !ok2 || len(left.Args) < 2 || len(right.Args) < 2 {
		return ""
	}
	tool, help := wordArg(left.Args[0]), wordArg(left.Args[1])
	grep, pat := wordArg(right.Args[0]), wordArg(right.Args[len(right.Args)-1])
	if !tool.lit || !help.lit || help.val != "--help" || !grep.lit || grep.val != "grep" || !pat.lit || !strings.HasPrefix(pat.val, "-") {
		return ""
	}
	return path.Base(tool.val) + " " + pat.val
}

// wordArg is the value of w when it is literal (quotes removed).
func wordArg(w *syntax.Word) arg {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, false))
		case *syntax.SglQuoted:
			if p.Dollar {
				return arg{prefix: b.String()}
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return arg{prefix: b.String()}
				}
				b.WriteString(unescape(lit.Value, true))
			}
		default:
			return arg{prefix: b.String()}
		}
	}
	return arg{val: b.String(), lit: true}
}

// unescape removes the shell's backslashes from a literal: outside quotes
// a backslash keeps the next character; inside double quotes only before
// $ ` " \ and newline.
func unescape(s string, dbl bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			n := s[i+1]
			if !dbl || strings.IndexByte("$`\"\\\n", n) >= 0 {
				if n != '\n' {
					b.WriteByte(n)
				}
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// argv checks one simple command: its program must be in the table, and
// its options, subcommands and rules that program's.
func (c *checker) argv(args []arg, probed map[string]bool, depth int) {
	if !args[0].lit {
		c.add("", "the program to run is not a literal word (%q...), so the check cannot look it up", args[0].prefix)
		return
	}
	name := path.Base(args[0].val)
	t := Lookup(name)
	if t == nil {
		c.add(name, "not in the EL7 table (internal/el7/table.go): add it with its CentOS 7.9 version, options and their source, or run something that is")
		return
	}
	ops, flags := c.parse([]*Tool{t}, args[1:], probed)
	words := make([]string, len(args)-1)
	for i, a := range args[1:] {
		words[i] = a.val
	}
	for _, r := range t.Rules {
		if why := r.Bad(words); why != "" {
			c.add(name, "%s", why)
		}
	}
	if t.NoWrapWith != "" && strings.ContainsAny(flags, t.NoWrapWith) {
		return
	}
	switch t.Wrap {
	case RunsCommand:
		if len(ops) > 0 {
			c.argv(ops, probed, depth+1)
		}
	case RunsScript:
		if !strings.Contains(flags, "c") {
			if len(ops) > 0 {
				c.add(name, "runs a script file, which the check cannot read")
			}
			return
		}
		if len(ops) == 0 {
			c.add(name, "-c without a script")
			return
		}
		if !ops[0].lit {
			c.add(name, "the script after -c is not a literal word, so the check cannot read it")
			return
		}
		c.script(ops[0].val, probed, depth+1)
	case RunsFlock:
		switch {
		case len(ops) >= 3 && ops[1].lit && (ops[1].val == "-c" || ops[1].val == "--command"):
			if !ops[2].lit {
				c.add(name, "the script after -c is not a literal word, so the check cannot read it")
				return
			}
			c.script(ops[2].val, probed, depth+1)
		case len(ops) >= 2:
			c.argv(ops[1:], probed, depth+1)
		}
	}
}

// parse checks args against the options of the tools in path (a tool and
// the subcommands chosen so far) and returns the operands of the last one,
// and the single-letter options seen.
func (c *checker) parse(path []*Tool, args []arg, probed map[string]bool) (ops []arg, flags string) {
	cur := path[len(path)-1]
	top := path[0].Name
	where := top
	for _, t := range path[1:] {
		where += " " + t.Name
	}
	stop := cur.StopAtOperand || strings.HasPrefix(cur.Short, "+")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if cur.Style == Operands {
			ops = append(ops, a)
			continue
		}
		word := a.val
		if !a.lit {
			word = a.prefix
		}
		isOpt := strings.HasPrefix(word, "-") && word != "-"
		if a.lit && word == "--" && cur.Style != SingleDash {
			ops = append(ops, args[i+1:]...)
			break
		}
		if !isOpt {
			if cur.Sub != nil && len(ops) == 0 {
				if !a.lit {
					c.add(top, "the subcommand of %s is not a literal word, so the check cannot look it up", where)
					return nil, flags
				}
				sub := cur.sub(a.val)
				if sub == nil {
					c.add(top, "%s has no subcommand %q in %s %s (%s)", where, a.val, path[0].Package, path[0].Version, path[0].Source)
					return nil, flags
				}
				o, f := c.parse(append(path[:len(path):len(path)], sub), args[i+1:], probed)
				return o, flags + f
			}
			ops = append(ops, a)
			if stop {
				ops = append(ops, args[i+1:]...)
				break
			}
			continue
		}
		if !a.lit && !strings.Contains(word, "=") {
			c.add(top, "an option word that is not literal (%q...), so the check cannot read it", word)
			continue
		}
		n, f, ok := c.option(path, word, probed)
		flags += f
		if !ok {
			if cur.Style == Lenient {
				ops = append(ops, a)
			}
			continue
		}
		i += n
	}
	return ops, flags
}

// option checks one option word against the tools in path and returns how
// many following words it consumes as its argument, the letters it set,
// and whether it is an option at all (false for a Lenient tool's operand).
func (c *checker) option(path []*Tool, word string, probed map[string]bool) (int, string, bool) {
	cur := path[len(path)-1]
	top := path[0]
	lenient := cur.Style == Lenient
	unknown := func(opt string) {
		if probed[top.Name+" "+opt] {
			return
		}
		c.add(top.Name, "option %s is not in %s %s (%s)", opt, top.Package, top.Version, sourceOf(path))
	}
	switch cur.Style {
	case SingleDash, GoFlag:
		name, _, hasVal := strings.Cut(strings.TrimLeft(word, "-"), "=")
		if cur.Style == SingleDash && strings.HasPrefix(word, "--") {
			unknown(word)
			return 0, "", true
		}
		spec, ok := findLong(path, name)
		if !ok {
			if lenient {
				return 0, "", false
			}
			unknown("-" + name)
			return 0, "", true
		}
		if strings.HasSuffix(spec, "=") && !hasVal {
			return 1, "", true
		}
		return 0, "", true
	}
	if strings.HasPrefix(word, "--") {
		name, _, hasVal := strings.Cut(word[2:], "=")
		spec, ok := findLong(path, name)
		if !ok {
			if lenient {
				return 0, "", false
			}
			unknown("--" + name)
			return 0, "", true
		}
		if strings.HasSuffix(spec, "=") && !hasVal {
			return 1, "", true
		}
		return 0, "", true
	}
	// Single letters, clustered unless the style forbids it.
	letters := word[1:]
	if cur.Style == NoCluster && len(letters) > 1 {
		spec, ok := findLong(path, letters)
		if ok {
			if strings.HasSuffix(spec, "=") {
				return 1, "", true
			}
			return 0, "", true
		}
		unknown(word)
		return 0, "", true
	}
	var set string
	for j := 0; j < len(letters); j++ {
		l := letters[j]
		arg, ok := findShort(path, l)
		if !ok {
			if lenient {
				return 0, "", false
			}
			unknown("-" + string(l))
			continue
		}
		set += string(l)
		switch arg {
		case 1: // required: the rest of the word, or the next word
			if j+1 < len(letters) {
				return 0, set, true
			}
			return 1, set, true
		case 2: // optional: only the rest of the word
			return 0, set, true
		}
	}
	return 0, set, true
}

func sourceOf(path []*Tool) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].Source != "" {
			return path[i].Source
		}
	}
	return ""
}

// findShort looks letter l up in the Short strings of path, innermost
// first: 0 no argument, 1 required, 2 optional.
func findShort(path []*Tool, l byte) (int, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		s := strings.TrimPrefix(path[i].Short, "+")
		for j := 0; j < len(s); j++ {
			if s[j] == ':' || s[j] != l {
				continue
			}
			switch {
			case strings.HasPrefix(s[j+1:], "::"):
				return 2, true
			case strings.HasPrefix(s[j+1:], ":"):
				return 1, true
			}
			return 0, true
		}
	}
	return 0, false
}

// findLong looks name up among the long options of path, innermost first:
// an exact name, else (getopt_long, or Abbrev) the only, or for Abbrev the
// first, that name is a prefix of.
func findLong(path []*Tool, name string) (string, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		for _, l := range path[i].Long {
			if n, _, _ := strings.Cut(l, "="); n == name {
				return strings.TrimSuffix(l, "?"), true
			}
		}
	}
	if name == "" {
		return "", false
	}
	for i := len(path) - 1; i >= 0; i-- {
		t := path[i]
		if t.Style == GoFlag || (t.Style == SingleDash && !t.Abbrev) {
			continue
		}
		var hits []string
		for _, l := range t.Long {
			if n, _, _ := strings.Cut(l, "="); strings.HasPrefix(n, name) {
				hits = append(hits, strings.TrimSuffix(l, "?"))
			}
		}
		if len(hits) == 1 || (len(hits) > 1 && t.Abbrev) {
			return hits[0], true
		}
	}
	return "", false
}

// sub returns t's subcommand called name (or, with Abbrev, the first that
// name is a prefix of), or nil.
func (t *Tool) sub(name string) *Tool {
	for _, s := range t.Sub {
		if s.Name == name {
			return s
		}
	}
	if t.Abbrev && name != "" {
		for _, s := range t.Sub {
			if strings.HasPrefix(s.Name, name) {
				return s
			}
		}
	}
	return nil
}
