// Command bench-check compares a fresh `make bench` results file with the
// recorded one, for `make bench-check`:
//
//	bench-check [--tolerance 0.15] RECORDED FRESH
//
// It prints both tables' metadata and one line per failed check, and exits
// 1 when a target is missed, a sub-bench broke, or a ratio is more than the
// tolerance worse than the recorded one (see benchx.Check); 2 on bad usage
// or an unreadable file.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/factory-appliance/appliance/internal/benchx"
)

func main() {
	fs := flag.NewFlagSet("bench-check", flag.ExitOnError)
	tol := fs.Float64("tolerance", benchx.DefaultTolerance, "how much worse than recorded a ratio may be (0.15 = 15%)")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: bench-check [--tolerance F] RECORDED FRESH")
		os.Exit(2)
	}
	os.Exit(run(fs.Arg(0), fs.Arg(1), *tol, os.Stdout, os.Stderr))
}

func run(recordedPath, freshPath string, tol float64, stdout, stderr io.Writer) int {
	recorded, err := benchx.ParseFile(recordedPath)
	if err != nil {
		fmt.Fprintln(stderr, "bench-check: recorded results:", err, "(record one with make bench-record)")
		return 2
	}
	fresh, err := benchx.ParseFile(freshPath)
	if err != nil {
		fmt.Fprintln(stderr, "bench-check: fresh results:", err)
		return 2
	}
	for _, s := range []struct {
		name string
		r    *benchx.Results
	}{{"recorded", recorded}, {"fresh", fresh}} {
		fmt.Fprintf(stdout, "%-8s commit %s, %s, load %s\n", s.name, s.r.Meta["commit"], s.r.Meta["date"], s.r.Meta["load"])
		if m := s.r.Meta["machine"]; m != "" {
			fmt.Fprintf(stdout, "%-8s machine %s\n", "", m)
		}
	}
	findings := benchx.Check(recorded, fresh, tol)
	if len(findings) == 0 {
		fmt.Fprintf(stdout, "bench-check: PASS: every target met, no ratio more than %.0f%% worse than recorded\n", 100*tol)
		return 0
	}
	for _, f := range findings {
		fmt.Fprintln(stdout, "FAIL", f)
	}
	fmt.Fprintf(stdout, "bench-check: %d failed check(s); on a loaded machine (see load) run it again before believing it\n", len(findings))
	if why := benchx.OtherMachine(recorded, fresh); why != "" {
		fmt.Fprintf(stdout, "bench-check: %s, so a ratio that moved may be the machine, not the code: bench the recorded commit here "+
			"(git worktree add ../recorded %s, then make bench there) and, if it moves the same way, make bench-record\n", why, recorded.Meta["commit"])
	}
	return 1
}
