//go:build site

package sitetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/testsite"
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
	// d.run allows 8 minutes, the time of a partial run; a whole
	// deployment may take longer on a slow machine.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	outFile := filepath.Join(d.site.StateDir, "deploy.out")
	start := time.Now()
	_, err := d.site.ExecContext(ctx, testsite.DeployHost, nil, "sh", "-c", shellJoin(d.args(d.inv))+" >"+outFile+" 2>&1")
	wall := time.Since(start)
	b, _ := os.ReadFile(outFile)
	out := string(b)
	d.outputs = append(d.outputs, out)
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
