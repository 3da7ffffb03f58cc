package deploy

import (
	"context"

	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/preflight"
)

// preflightSite is what the preflight checks (internal/preflight) need of
// this deployment.
func (d *Deployment) preflightSite() *preflight.Site {
	return &preflight.Site{Index: d.index, KubernetesVersion: d.k8sVersion, AllowIncompatible: d.cfg.AllowIncompatible,
		TestSiteHosts: d.cfg.TestSiteHosts, DeployNode: d.inv.DeployNode.Address, APIServer: d.inv.APIServer,
		HAHosts: d.haHosts(), CACert: d.caCert, SeedURL: d.seedURL(), Warn: d.cfg.Warn}
}

// uniquePhase checks, once every host passed preflight, that no two hosts
// are clones: they must differ in /etc/machine-id, which kubelet and etcd
// rely on. It also reports current host names that collide (only a note:
// /system renames every host to its inventory name).
func (d *Deployment) uniquePhase(id string) *plan.Phase {
	return &plan.Phase{
		ID:       id,
		Title:    "No two hosts are clones",
		Attempts: d.cfg.Attempts,
		Run:      func(ctx context.Context) error { return preflight.Unique(ctx, d.hosts, d.runner) },
		DryRun: func() []string {
			var out []string
			for _, h := range d.hosts {
				out = append(out, h.Name+": "+preflight.UniqueCommand)
			}
			return out
		},
	}
}
