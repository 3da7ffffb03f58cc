package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
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
func (d *Deployment) stackPhase() *plan.Phase {
	steps := stack.Steps(d.index)
	if len(steps) == 0 {
		return nil
	}
	children := make([]*plan.Phase, len(steps))
	for i, s := range steps {
		children[i] = d.stepPhase("/stack", s)
	}
	return plan.Steps("/stack", "The stack's charts and manifests, in order", children...)
}

// stepPhase is step s of the install plan as phase group/<step name>, run
// on the deploy node.
func (d *Deployment) stepPhase(group string, s stack.Step) *plan.Phase {
	id := group + "/" + s.Name()
	return &plan.Phase{
		ID:     id,
		Title:  d.stepTitle(s),
		Run:    func(ctx context.Context) error { return d.installStep(ctx, id, s) },
		DryRun: func() []string { return d.stepDryRun(s) },
	}
}

// stepTitle names what a step installs: "Helm release nfs: chart
// nfs-subdir-external-provisioner 4.0.18 in namespace storage".
func (d *Deployment) stepTitle(s stack.Step) string {
	if r := s.Release; r != nil {
		name, version := chartOf(d.bundle, r.Chart)
		return fmt.Sprintf("Helm release %s: chart %s %s in namespace %s", r.Name, name, version, r.Namespace)
	}
	return fmt.Sprintf("Apply the manifests of component %s (%d file(s))", s.Component, len(s.Manifests))
}

// chartOf reads a chart entry's name and version from bundle.json.
func chartOf(r *bundle.Reader, path string) (name, version string) {
	a, ok := r.Lookup(path)
	if !ok {
		return path, "(not in the bundle)"
	}
	return a.Name, a.Annotations[bundle.AnnotationChartVersion]
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

// stepDryRun is what a step would do, as the equivalent helm and kubectl
// commands (deploy runs them through the Helm SDK and client-go, on the
// deploy node).
func (d *Deployment) stepDryRun(s stack.Step) []string {
	kc := d.state.KubeconfigPath()
	wait := fmt.Sprintf("wait up to %s for its Deployments, StatefulSets and DaemonSets to roll out and its Jobs to complete", d.cfg.StackTimeout)
	if r := s.Release; r != nil {
		values := ""
		for _, v := range r.Values {
			values += " -f " + v
		}
		return []string{
			fmt.Sprintf("helm upgrade --install %s %s --namespace %s --create-namespace%s --kubeconfig %s (Helm SDK, from the bundle; no change when the deployed revision has the same chart and values)",
				r.Name, r.Chart, r.Namespace, values, kc),
			wait,
		}
	}
	return []string{
		fmt.Sprintf("kubectl apply --server-side --field-manager %s --force-conflicts --kubeconfig %s -f %s (client-go, from the bundle; CustomResourceDefinitions first, until Established, then Namespaces, then the rest in file order)",
			stack.FieldManager, kc, strings.Join(s.Manifests, " -f ")),
		wait,
	}
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
		td.Site.Registry = strings.TrimPrefix(harborURL(d.inv.Harbor), "https://")
	}
	if nfs := d.inv.Storage.NFS; nfs != nil {
		td.Storage.NFS = template.NFS{Server: nfs.Server, Path: nfs.Path}
	}
	if ceph := d.inv.Storage.Ceph; ceph != nil {
		td.Storage.Ceph = template.Ceph{ClusterID: ceph.ClusterID, Monitors: append([]string(nil), ceph.Monitors...)}
	}
	return td
}
