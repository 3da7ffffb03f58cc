// Command bench-site tells where a deploy's time went, from the journal in
// its state directory (internal/plan), for docs/bench.md's deploy-side
// figures:
//
//	bench-site [--top N] STATE_DIR
//
// It prints, as markdown, the total from the first phase started to the
// last one ended, the top-level phases in order with their wall time and
// share, the longest groups and leaves, and which phase dominates. It only
// reads the journal (without taking the state directory's lock), so it can
// run while a deploy is still going. When the directory also holds
// deploy.wall (the site test's APPLIANCE_SITE_TIMES mode writes it: the
// deploy command's wall time in seconds, from start to exit), it is printed
// too: it adds what happens before the first phase (opening the bundle,
// the plan) and after the last.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/factory-appliance/appliance/internal/benchx"
	"github.com/factory-appliance/appliance/internal/plan"
)

func main() {
	fs := flag.NewFlagSet("bench-site", flag.ExitOnError)
	top := fs.Int("top", 10, "how many groups and leaves to list")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: bench-site [--top N] STATE_DIR")
		os.Exit(2)
	}
	recs, err := plan.ReadJournal(fs.Arg(0))
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("%s: no journal records; is it a deploy's state directory (--state-dir)?", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-site:", err)
		os.Exit(1)
	}
	st, err := benchx.Times(recs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-site:", err)
		os.Exit(1)
	}
	if b, err := os.ReadFile(filepath.Join(fs.Arg(0), "deploy.wall")); err == nil {
		fmt.Printf("deploy command, start to exit: %s s\n", strings.TrimSpace(string(b)))
	}
	st.Report(os.Stdout, *top)
}
