package deploy

import (
	"fmt"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
)

// harborPhase is /harbor, after /kubernetes:
//
//	/harbor/install/<registry host>  Harbor from the bundle's offline installer
//	/harbor/load                     every image pushed in, under its own name
//	/harbor/mirrors/<node>...        containerd pulls from Harbor, not the seed
//
// After it, no node needs the deploy node. It is nil when the site has no
// registry host or the bundle no Harbor installer.
func (d *Deployment) harborPhase(id string) *plan.Phase {
	reg, ok := d.inv.Registry()
	if !ok {
		return nil
	}
	if _, ok := harbor.Installer(d.index); !ok {
		return nil
	}
	h := d.harborSite(reg)
	return plan.Steps(id, "Harbor on "+reg.Name+", loaded, and the nodes handed over to it", present(
		d.oneHost("/harbor/install", "Install Harbor", reg, "Harbor from its offline installer", h.Install),
		&plan.Phase{
			ID:       "/harbor/load",
			Title:    "Push every image of the bundle into Harbor",
			Attempts: d.cfg.Attempts,
			Run:      h.Load,
			DryRun:   h.LoadDryRun,
		},
		d.eachHost("/harbor/mirrors", "containerd on every node pulls from Harbor", d.nodes, "Registry mirrors to Harbor", h.Mirrors),
	)...)
}

// harborSite is what the Harbor steps (internal/harbor/install) need of
// this deployment, with Harbor on registry host reg.
func (d *Deployment) harborSite(reg inventory.Host) *install.Site {
	return &install.Site{Harbor: d.inv.Harbor, Registry: reg, Bundle: d.bundle, Index: d.index, SeedURL: d.seedURL(),
		State: d.state, Secrets: d.harborSecrets, Redactor: d.red}
}

// harborSecrets returns Harbor's admin and database passwords, registered
// with the redactor. The admin password is the first line of the
// inventory's harbor.adminPasswordFile, else of the state directory's
// HarborAdminPasswordFile, made (random) on first use; the database
// password is always the state directory's. In a dry run nothing is made.
func (d *Deployment) harborSecrets(dry bool) (admin, db string, err error) {
	if f := d.inv.Harbor.AdminPasswordFile; f != "" {
		admin, err = state.ReadSecretFile(f)
		if err != nil {
			return "", "", fmt.Errorf("inventory harbor.adminPasswordFile: %w", err)
		}
	} else if admin, err = d.secret(state.HarborAdminPasswordFile, state.RandomSecret, dry); err != nil {
		return "", "", err
	}
	if db, err = d.secret(state.HarborDBPasswordFile, state.RandomSecret, dry); err != nil {
		return "", "", err
	}
	d.red.Add(admin)
	d.red.Add(db)
	return admin, db, nil
}
