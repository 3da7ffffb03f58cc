package deploy

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kube"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/stack"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// UpgradeOptions are deploy upgrade's.
type UpgradeOptions struct {
	// MaxUnavailable is how many workers are upgraded at once (default 1).
	// Masters are always upgraded one at a time.
	MaxUnavailable int
	// NoDrain skips each node's drain; DrainTimeout bounds it (default
	// DefaultDrainTimeout).
	NoDrain      bool
	DrainTimeout time.Duration
}

// upgradeOp is deploy upgrade: the site moved from the bundle it runs to
// this one, which the site server serves while it runs:
//
//	/upgrade/verify                       every entry's digest
//	/upgrade/check/<first master>         the cluster's Kubernetes → this bundle's: one minor at most, never down
//	/upgrade/repos/<host>...              yum at the site server, now serving this bundle
//	/upgrade/harbor/load                  this bundle's images into Harbor, only what it lacks (when Harbor was loaded)
//	/upgrade/packages/<host>...           each role's packages this bundle updates (not kubeadm, kubelet, kubectl)
//	/upgrade/masters/<master>/...         the masters one at a time, the first with kubeadm upgrade apply:
//	    kubeadm, drain, kubelet, ready    kubeadm's package and upgrade, drained (on the first master),
//	                                      kubelet's and kubectl's packages and a kubelet restart, Ready at the
//	                                      new version and uncordoned
//	/upgrade/workers/batch-<n>/<worker>/... the workers, MaxUnavailable at a time, the same steps
//	/upgrade/ready/<first master>         every node Ready at the new version, kube-system ready
//	/upgrade/cni/<step>...                this bundle's pod network applied (when it has one): its manifests
//	                                      and release, as /kubernetes/cni applies them
//	/upgrade/stack/<step>...              each release and manifest set; a release whose chart and values
//	                                      did not change is left as it is (its fingerprint)
//
// Nothing touches a host before the check: a refused upgrade changes
// nothing. A node that fails stops the rollout there: the nodes after it
// still run the version before, and the cluster serves.
func (d *Deployment) upgradeOp(uo UpgradeOptions) (op, error) {
	if d.k8sVersion == "" {
		return op{}, fmt.Errorf("the bundle %s carries no Kubernetes: deploy upgrade moves a cluster to a bundle's Kubernetes", d.cfg.BundlePath)
	}
	if uo.MaxUnavailable <= 0 {
		uo.MaxUnavailable = 1
	}
	if uo.DrainTimeout <= 0 {
		uo.DrainTimeout = DefaultDrainTimeout
	}
	k, first := d.kubeadmSite(), d.masters[0]
	hs := d.hostSetup()

	var load *plan.Phase
	if reg, ok := d.inv.Registry(); ok && d.state.ReadHarborRecord() != nil {
		if _, ok := harbor.Installer(d.index); ok {
			h := d.harborSite(reg)
			load = plan.Group("/upgrade/harbor", "Harbor on "+reg.Name+" holds this bundle's images", &plan.Phase{
				ID:       "/upgrade/harbor/load",
				Title:    "Push the images Harbor lacks",
				Attempts: d.cfg.Attempts,
				Run:      h.Load,
				DryRun:   h.LoadDryRun,
			})
		}
	}

	masters := make([]*plan.Phase, len(d.masters))
	for i, m := range d.masters {
		masters[i] = d.upgradeNode("/upgrade/masters/"+m.Name, m, i == 0, true, k, uo)
	}
	var workers []inventory.Host
	for _, n := range d.nodes {
		if !n.HasRole(inventory.RoleMaster) {
			workers = append(workers, n)
		}
	}
	var batches []*plan.Phase
	for i := 0; i < len(workers); i += uo.MaxUnavailable {
		batch := workers[i:min(i+uo.MaxUnavailable, len(workers))]
		id := "/upgrade/workers/batch-" + strconv.Itoa(len(batches)+1)
		batches = append(batches, plan.ForEach(id, fmt.Sprintf("Workers %d to %d", i+1, i+len(batch)), batch, func(w inventory.Host) *plan.Phase {
			return d.upgradeNode(id+"/"+w.Name, w, false, false, k, uo)
		}))
	}
	var workersPhase *plan.Phase
	if len(batches) > 0 {
		workersPhase = plan.Steps("/upgrade/workers", fmt.Sprintf("The workers, %d at a time", uo.MaxUnavailable), batches...)
	}
	return op{name: "upgrade", title: "upgrade to " + d.index.Name + " " + d.index.Version + " (Kubernetes " + d.k8sVersion + ")", start: d.Start,
		phases: []*plan.Phase{plan.Steps("/upgrade", "Upgrade the site to "+d.index.Name+" "+d.index.Version, present(
			d.verifyPhase("/upgrade/verify"),
			d.oneHost("/upgrade/check", "The cluster may move to Kubernetes "+d.k8sVersion, first, "Versions", k.UpgradeCheck),
			d.eachHost("/upgrade/repos", "Point yum at the site server", d.hosts, "Site CA and yum repos", hs.Repos),
			load,
			d.eachHost("/upgrade/packages", "Each role's packages this bundle updates", d.hosts, "Update packages", k.UpdatePackages),
			plan.Steps("/upgrade/masters", "The masters, one at a time", masters...),
			workersPhase,
			d.oneHost("/upgrade/ready", "Every node Ready at "+d.k8sVersion, first, "Nodes and kube-system", k.UpgradeReady),
			d.cniPhase("/upgrade/cni", first),
			d.stackPhase("/upgrade/stack"),
		)...)}}, nil
}

// upgradeNode is node n's turn of the upgrade, as group id, in the order
// of kubeadm's upgrade guide: kubeadm's package and upgrade (the static
// pods of a master restart on their own, one by one), the node drained (on
// the first master) before kubelet's and kubectl's packages and kubelet's
// restart, then Ready at the new version and uncordoned.
func (d *Deployment) upgradeNode(id string, n inventory.Host, first, master bool, k *steps.Site, uo UpgradeOptions) *plan.Phase {
	leaf := func(step, title string, h inventory.Host, fn hostFunc) *plan.Phase {
		p := d.hostPhase(id, title, fn)(h)
		p.ID = id + "/" + step
		return p
	}
	var drain *plan.Phase
	if !uo.NoDrain {
		drain = leaf("drain", "kubectl drain "+n.Name, d.masters[0], steps.Drain(n.Name, uo.DrainTimeout))
	}
	kubeadmTitle := "kubeadm upgrade node"
	if first {
		kubeadmTitle = "kubeadm upgrade plan and apply"
	}
	return plan.Steps(id, "Upgrade "+n.Name, present(
		leaf("kubeadm", kubeadmTitle, n, k.UpgradeKubeadm(first, master)),
		drain,
		leaf("kubelet", "kubelet and kubectl, restarted", n, k.UpgradeKubelet),
		leaf("ready", n.Name+" Ready at "+d.k8sVersion+", uncordoned", d.masters[0], k.NodeUpgraded(n.Name)),
	)...)
}

// Upgrade runs deploy upgrade (upgradeOp), with the site server serving
// this bundle while it runs.
func (d *Deployment) Upgrade(ctx context.Context, uo UpgradeOptions, ro RunOptions) error {
	x, err := d.upgradeOp(uo)
	if err != nil {
		return err
	}
	return (&Ops{d: d}).run(ctx, x, ro)
}

// DryRunUpgrade prints what deploy upgrade would run: first the versions
// from → to (the cluster's read from the deploy node when the state
// directory has its kubeconfig), the nodes in their order and the stack's
// steps, then every phase and its commands.
func (d *Deployment) DryRunUpgrade(ctx context.Context, w io.Writer, uo UpgradeOptions) error {
	x, err := d.upgradeOp(uo)
	if err != nil {
		return err
	}
	from, reached := d.clusterVersion(ctx)
	fmt.Fprintf(w, "upgrade to %s %s: Kubernetes %s → %s\n", d.index.Name, d.index.Version, from, d.k8sVersion)
	var masters, workers []string
	for _, n := range d.nodes {
		if n.HasRole(inventory.RoleMaster) {
			masters = append(masters, n.Name)
		} else {
			workers = append(workers, n.Name)
		}
	}
	fmt.Fprintf(w, "masters, one at a time: %s\n", strings.Join(masters, ", "))
	if len(workers) > 0 {
		fmt.Fprintf(w, "workers, %d at a time: %s\n", max(uo.MaxUnavailable, 1), strings.Join(workers, ", "))
	}
	if steps := d.stackChanges(reached); len(steps) > 0 {
		fmt.Fprintf(w, "stack: %s\n", strings.Join(steps, ", "))
	}
	fmt.Fprintln(w)
	return (&Ops{d: d}).dryRun(w, x)
}

// stackChanges is each step of the bundle's stack with what the upgrade
// would do to it: a release's install, upgrade or nothing (its chart and
// values unchanged), read through the state directory's kubeconfig; a
// manifest set is applied (objects that did not change stay as they are).
// The cluster is read only when it answered (reached).
func (d *Deployment) stackChanges(reached bool) []string {
	var in *stack.Installer
	if reached {
		in, _ = stack.Open(d.state.KubeconfigPath(), d.bundle, stack.WithAPIServer(d.apiEndpoint()), stack.WithTemplateData(d.TemplateData()))
	}
	var out []string
	for _, s := range stack.Steps(d.index) {
		change := "applied"
		if s.Release != nil {
			change = "install or upgrade unless unchanged (the cluster was not read)"
			if in != nil {
				if c, err := in.Change(*s.Release); err == nil {
					change = c
				} else {
					change = "(not read: " + termtext.Escape(err.Error()) + ")"
				}
			}
		}
		out = append(out, s.Name()+" "+change)
	}
	return out
}

// clusterVersion is the version the cluster runs, read through the state
// directory's admin kubeconfig (kubeadm-config), and true; or what kept it
// from being read, and false.
func (d *Deployment) clusterVersion(ctx context.Context) (string, bool) {
	if _, err := d.state.Kubeconfig(); err != nil {
		return "(not read: no admin kubeconfig in " + d.cfg.StateDir + "; /upgrade/check reads it)", false
	}
	c, err := kube.Open(d.state.KubeconfigPath(), d.apiEndpoint(), kube.Options{UserAgent: "appliance-deploy-upgrade", Timeout: 10 * time.Second, MaxAnswer: 1 << 20})
	if err != nil {
		return "(not read: " + termtext.Escape(err.Error()) + ")", false
	}
	cm, err := c.Clientset.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if err != nil {
		return "(not read: " + termtext.Escape(err.Error()) + ")", false
	}
	v, err := kubeadm.ClusterConfigVersion(cm.Data["ClusterConfiguration"])
	if err != nil {
		return "(not read: " + termtext.Escape(err.Error()) + ")", false
	}
	return v, true
}
