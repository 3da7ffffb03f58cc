package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/stack"
	"github.com/factory-appliance/appliance/manifest/template"
)

// stackPhase is /stack: the bundle's install plan (stack.Steps), one step
// after another, from the deploy node through the cluster-admin kubeconfig
// in the state directory:
//
//	/stack/<release>               helm install or upgrade, then its rollouts
//	/stack/<component>-manifests   server-side apply, then its rollouts
//
// in the stack's order: components as listed, each one's releases, then
// its manifests. Each step is idempotent (see stack.Installer), so
// --resume or --phase /stack/<release> runs one again. It is nil when the
// bundle installs nothing.
func (d *Deployment) stackPhase(id string) *plan.Phase {
	steps := stack.Steps(d.index)
	if len(steps) == 0 {
		return nil
	}
	children := make([]*plan.Phase, len(steps))
	for i, s := range steps {
		children[i] = d.stepPhase(id, s)
	}
	return plan.Steps(id, "The stack's charts and manifests, in order", children...)
}

// stepPhase is step s of the install plan as phase group/<step name>, run
// on the deploy node.
func (d *Deployment) stepPhase(group string, s stack.Step) *plan.Phase {
	id := group + "/" + s.Name()
	return &plan.Phase{
		ID:     id,
		Title:  s.Title(d.bundle),
		Run:    func(ctx context.Context) error { return d.installStep(ctx, id, s) },
		DryRun: func() []string { return s.DryRun(d.state.KubeconfigPath(), d.cfg.StackTimeout) },
	}
}

// installStep runs one step of the install plan against the cluster as
// phase id.
func (d *Deployment) installStep(ctx context.Context, id string, s stack.Step) error {
	kubeconfig, err := d.state.Kubeconfig()
	if err != nil {
		return err
	}
	in, err := stack.Open(kubeconfig, d.bundle, stack.WithAPIServer(d.apiEndpoint()), stack.WithTimeout(d.cfg.StackTimeout), stack.WithTemplateData(d.TemplateData()), stack.WithLogf(func(format string, args ...any) {
		plan.Logf(ctx, format, args...)
	}))
	if err != nil {
		return err
	}
	if err := in.Run(ctx, s); err != nil {
		return fmt.Errorf("%w; %s", err, rerunHint(id))
	}
	return nil
}

// rerunHint says how to run a failed step, phase id, again.
func rerunHint(id string) string {
	return fmt.Sprintf("fix the cause, then run deploy --resume, or deploy --phase %s for this step alone (add --force to run it again once it has completed)", id)
}

// TemplateData is the site's data that the bundle's templates (values
// files and manifests marked template: true) are rendered with: the stack
// from bundle.json, the rest from the inventory.
func (d *Deployment) TemplateData() template.Data {
	td := template.Data{
		Stack:   template.Stack{Name: d.index.Name, Version: d.index.Version},
		Network: template.Network{PodCIDR: d.inv.Network.PodCIDR, ServiceCIDR: d.inv.Network.ServiceCIDR},
	}
	if len(d.masters) > 0 {
		td.Network.ControlPlane = d.cluster().Endpoint
	}
	if _, ok := d.inv.Registry(); ok && d.inv.Harbor.Hostname != "" {
		td.Site.Registry = strings.TrimPrefix(install.URL(d.inv.Harbor), "https://")
	}
	if nfs := d.inv.Storage.NFS; nfs != nil {
		td.Storage.NFS = template.NFS{Server: nfs.Server, Path: nfs.Path}
	}
	if ceph := d.inv.Storage.Ceph; ceph != nil {
		td.Storage.Ceph = template.Ceph{ClusterID: ceph.ClusterID, Monitors: append([]string(nil), ceph.Monitors...)}
	}
	return td
}
