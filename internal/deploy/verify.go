package deploy

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/plan"
)

// verifyPhase checks the digest of every entry of the bundle against
// bundle.json (whose signature Open already checked). It is the first phase:
// no host is touched before it completes.
func (d *Deployment) verifyPhase(id string) *plan.Phase {
	return &plan.Phase{
		ID:    id,
		Title: "Verify the bundle's digests",
		Run:   d.verifyBundle,
		DryRun: func() []string {
			return []string{fmt.Sprintf("verify the sha256 of all %d entries of %s against its signed bundle.json",
				len(d.bundle.Artifacts()), d.bundleName())}
		},
	}
}

func (d *Deployment) verifyBundle(ctx context.Context) error {
	var n atomic.Int64
	total := len(d.bundle.Artifacts())
	plan.Logf(ctx, "verifying %d entries of %s (%s %s)", total, d.bundleName(), d.index.Name, d.index.Version)
	err := d.bundle.Verify(ctx, func(a bundle.Artifact, err error) {
		if err != nil {
			plan.Logf(ctx, "%s: %v", a.Path, err)
		}
		if k := n.Add(1); k%500 == 0 {
			plan.Logf(ctx, "verified %d of %d entries", k, total)
		}
	})
	if err != nil {
		return fmt.Errorf("bundle %s failed verification, so nothing was deployed: %w; get an intact copy of the bundle", d.bundleName(), err)
	}
	plan.Logf(ctx, "all %d entries match bundle.json", total)
	return nil
}

// bundleName names the bundle in messages: the delta and its base, when
// deploying a delta.
func (d *Deployment) bundleName() string {
	if d.cfg.BasePath != "" {
		return d.cfg.BundlePath + " (with its base " + d.cfg.BasePath + ")"
	}
	return d.cfg.BundlePath
}
