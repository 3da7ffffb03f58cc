//go:build site

package sitetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
)

// timesEnv names the environment variable that turns the Kubernetes site
// tests into the deploy-side benchmark (docs/bench.md):
// APPLIANCE_SITE_TIMES=DIR deploys each shape in one uninterrupted run (no
// kills, no cut cables) and keeps its journal in DIR/ha and
// DIR/one-master, with the deploy command's wall time, for bin/bench-site.
// The checks after the deployment run as usual.
const timesEnv = "APPLIANCE_SITE_TIMES"

func timing() bool { return os.Getenv(timesEnv) != "" }

// runTimed deploys in one run, timing the deploy command from start to
// exit, and keeps the journal and the time under $APPLIANCE_SITE_TIMES/name.
func runTimed(t *testing.T, d *deployer, name string) {
	t.Helper()
	start := time.Now()
	out, err := d.run()
	wall := time.Since(start)
	if err != nil {
		logPodNetwork(t, d)
		t.Fatalf("deploy (timed, %s): %v\n%s", wall, err, out)
	}
	dir := filepath.Join(os.Getenv(timesEnv), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	journal, err := os.ReadFile(filepath.Join(d.state, plan.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, plan.JournalFile), journal, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy.wall"), fmt.Appendf(nil, "%.1f\n", wall.Seconds()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("deploy (%s) took %s from start to exit; journal kept in %s (bin/bench-site %s)", name, wall.Round(time.Second), dir, dir)
}
