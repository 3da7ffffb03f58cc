package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
	"github.com/factory-appliance/appliance/internal/stack"
)

// DefaultDrainTimeout bounds a node's drain (deploy remove-node).
const DefaultDrainTimeout = 5 * time.Minute

// addNodeOp is deploy add-node NAME: the node, a master or a worker of the
// inventory, prepared as /preflight to /containerd would, joined at the
// version the cluster runs, with fresh tokens (and, for a master, a fresh
// certificate key, the control-plane certificates uploaded again), then:
//
//	/add-node/version                the cluster runs this bundle's Kubernetes
//	/add-node/preflight/<node>       ... /add-node/containerd/<node>
//	/add-node/system/<host>...       every host's /etc/hosts names the node
//	/add-node/ha/<master>...         haproxy and keepalived with a new master
//	/add-node/join/<node>            kubeadm join (--control-plane)
//	/add-node/network/<node>...      pod network (the deployer's bridge: routes on every node)
//	/add-node/mirrors/<node>         containerd to Harbor, when Harbor was loaded
//	/add-node/upkeep/<node>          a master's timers
//	/add-node/ready/<first master>   the node Ready, one etcd member per master
func (d *Deployment) addNodeOp(name string) (op, error) {
	h, ok := d.inv.Host(name)
	if !ok {
		return op{}, fmt.Errorf("inventory %s has no host %s: add it there (with its roles) first", d.inv.Path, name)
	}
	master := h.HasRole(inventory.RoleMaster)
	if !master && !h.HasRole(inventory.RoleWorker) {
		return op{}, fmt.Errorf("host %s has neither the master nor the worker role in %s", name, d.inv.Path)
	}
	if d.k8sVersion == "" {
		return op{}, fmt.Errorf("the bundle %s carries no Kubernetes: add-node joins a node with the bundle the cluster was deployed with", d.cfg.BundlePath)
	}
	if name == d.masters[0].Name {
		return op{}, fmt.Errorf("%s is the first master of the inventory, which runs the cluster's kubeadm and kubectl: an added master goes after it", name)
	}
	k, one := d.kubeadmSite(), []inventory.Host{h}
	join, joinTitle := k.JoinWorker, "kubeadm join"
	if master {
		join, joinTitle = k.JoinMaster, "kubeadm join --control-plane"
	}
	network := d.eachHost("/add-node/network", "The new node's pod network", one, "No deployer bridge", steps.DropBridge)
	if len(stack.NetworkSteps(d.index)) == 0 {
		network = d.eachHost("/add-node/network", "Pod network and routes on every node", d.nodes, "Pod network", k.PodNetwork)
	}
	var ha, upkeep, mirrors *plan.Phase
	if master {
		ha = d.eachHost("/add-node/ha", "haproxy and keepalived on every master, with the new one", d.haHosts(), "keepalived and haproxy", d.hostSetup().HA)
		upkeep = d.eachHost("/add-node/upkeep", "The new master's timers", one, "Certificate renewal and etcd snapshot timers", steps.Upkeep(slices.IndexFunc(d.masters, func(m inventory.Host) bool { return m.Name == name }), d.etcdBackup()))
	}
	if reg, ok := d.inv.Registry(); ok && d.state.ReadHarborRecord() != nil {
		mirrors = d.eachHost("/add-node/mirrors", "The new node pulls from Harbor", one, "Registry mirrors to Harbor", d.harborSite(reg).Mirrors)
	}
	hs := d.hostSetup()
	return op{name: "add-node-" + name, title: "adding node " + name, start: d.Start, phases: []*plan.Phase{plan.Steps("/add-node", "Add "+name+" to the cluster", present(
		d.oneHost("/add-node/version", "The cluster runs the bundle's Kubernetes "+d.k8sVersion, d.masters[0], "Masters' kubelet versions", k.SameVersion),
		d.eachHost("/add-node/preflight", "Check the new node", one, "Preflight checks", d.preflightSite().Check),
		d.eachHost("/add-node/repos", "Point yum at the site server", one, "Site CA and yum repos", hs.Repos),
		d.eachHost("/add-node/packages", "The new node's packages", one, "Install packages", hs.Packages),
		d.eachHost("/add-node/system", "Every host's system settings, /etc/hosts with the new node", d.hosts, "System settings", hs.System),
		d.eachHost("/add-node/containerd", "containerd with registry mirrors", one, "Configure containerd", hs.Containerd),
		ha,
		d.eachHost("/add-node/join", "The node joins at "+d.k8sVersion, one, joinTitle, join),
		network,
		mirrors,
		upkeep,
		d.oneHost("/add-node/ready", "The cluster is ready with the new node", d.masters[0], "The node Ready, kube-system and etcd", k.NodeJoined(name)),
	)...)}}, nil
}

// AddNode runs deploy add-node NAME (addNodeOp), with the site server
// serving this bundle while it runs.
func (d *Deployment) AddNode(ctx context.Context, name string, ro RunOptions) error {
	x, err := d.addNodeOp(name)
	if err != nil {
		return err
	}
	return (&Ops{d: d}).run(ctx, x, ro)
}

// DryRunAddNode prints what deploy add-node NAME would run.
func (d *Deployment) DryRunAddNode(w io.Writer, name string) error {
	x, err := d.addNodeOp(name)
	if err != nil {
		return err
	}
	return (&Ops{d: d}).dryRun(w, x)
}

// RemoveOptions are deploy remove-node's.
type RemoveOptions struct {
	// Address is the node's address, to reset it (default: its
	// InternalIP, asked of the cluster).
	Address string
	// Master says the node is a master (default: asked of the cluster).
	Master bool
	// NoDrain skips the drain; DrainTimeout bounds it (default
	// DefaultDrainTimeout).
	NoDrain      bool
	DrainTimeout time.Duration
	// NoReset leaves the node itself alone (a host that is gone).
	NoReset bool
}

// removeNodeOp is deploy remove-node NAME, for a node taken out of the
// inventory:
//
//	/remove-node/check           not the last master, etcd keeps a quorum
//	/remove-node/drain           cordoned, its pods evicted (PDBs respected)
//	/remove-node/etcd            a master's etcd member removed
//	/remove-node/delete          the Node object deleted
//	/remove-node/ha/<master>...  haproxy and keepalived without it
//	/remove-node/system/<host>.. every host's /etc/hosts without it
//	/remove-node/reset/<node>    kubeadm reset on the node itself (unless NoReset)
func (o *Ops) removeNodeOp(node inventory.Host, ro RemoveOptions) op {
	d := o.d
	k, first := d.kubeadmSite(), d.masters[0]
	if ro.DrainTimeout <= 0 {
		ro.DrainTimeout = DefaultDrainTimeout
	}
	var drain, etcd, ha, reset *plan.Phase
	if !ro.NoReset {
		reset = d.oneHost("/remove-node/reset", "Reset "+node.Name, node, "kubeadm reset", steps.ResetNode(ro.Master))
	}
	if !ro.NoDrain {
		drain = d.oneHost("/remove-node/drain", "Drain "+node.Name, first, "kubectl drain", steps.Drain(node.Name, ro.DrainTimeout))
	}
	if ro.Master {
		etcd = d.oneHost("/remove-node/etcd", "Remove "+node.Name+"'s etcd member", first, "etcd member remove", k.RemoveEtcdMember(node.Name))
		ha = d.eachHost("/remove-node/ha", "haproxy and keepalived on the other masters, without it", d.haHosts(), "keepalived and haproxy", d.hostSetup().HA)
	}
	return op{name: "remove-node-" + node.Name, title: "removing node " + node.Name, phases: []*plan.Phase{plan.Steps("/remove-node", "Remove "+node.Name+" from the cluster", present(
		d.oneHost("/remove-node/check", "Not the last master, and etcd keeps a quorum", first, "Removal allowed", k.CheckRemoval(node.Name, ro.Master)),
		drain,
		etcd,
		d.oneHost("/remove-node/delete", "Delete the node "+node.Name, first, "kubectl delete node", steps.DeleteNode(node.Name)),
		ha,
		d.eachHost("/remove-node/system", "Every host's /etc/hosts without it", d.hosts, "System settings", d.hostSetup().System),
		reset,
	)...)}}
}

// removedNode is node name as the cluster knows it, for a node the
// inventory no longer has: its InternalIP (unless ro gives one) and
// whether it is a master, read on the first master (also for a dry run:
// it only reads), logging in as the inventory's default user.
func (o *Ops) removedNode(ctx context.Context, name string, ro *RemoveOptions) (inventory.Host, error) {
	d := o.d
	if _, ok := d.inv.Host(name); ok {
		return inventory.Host{}, fmt.Errorf("%s is still in inventory %s: take it out of the inventory first, then remove it", name, d.inv.Path)
	}
	h := d.inv.FormerHost(name, ro.Address, inventory.RoleWorker)
	r, err := d.runner(ctx, d.masters[0])
	if err != nil {
		return h, err
	}
	first := &remote.Host{Runner: r, Host: d.masters[0]}
	out, err := first.Out(ctx, `kubectl --kubeconfig /etc/kubernetes/admin.conf get node `+sshx.Quote(name)+
		` -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address} {.metadata.labels}'`)
	if err != nil {
		return h, fmt.Errorf("node %s, asked of the cluster on %s: %w; is it still a node of the cluster (kubectl get nodes)?", name, d.masters[0].Name, err)
	}
	addr, labels, _ := strings.Cut(out, " ")
	if h.Address == "" {
		h.Address = addr
	}
	ro.Master = ro.Master || strings.Contains(labels, `"node-role.kubernetes.io/control-plane"`)
	if h.Address == "" {
		return h, fmt.Errorf("the cluster knows no address of %s: give it with --address", name)
	}
	if ro.Master {
		h.Roles = []inventory.Role{inventory.RoleMaster}
	}
	return h, nil
}

// RemoveNode runs deploy remove-node NAME (removeNodeOp).
func (o *Ops) RemoveNode(ctx context.Context, name string, rm RemoveOptions, ro RunOptions) error {
	h, err := o.removedNode(ctx, name, &rm)
	if err != nil {
		return err
	}
	return o.run(ctx, o.removeNodeOp(h, rm), ro)
}

// DryRunRemoveNode prints what deploy remove-node NAME would run.
func (o *Ops) DryRunRemoveNode(ctx context.Context, w io.Writer, name string, rm RemoveOptions) error {
	h, err := o.removedNode(ctx, name, &rm)
	if err != nil {
		return err
	}
	return o.dryRun(w, o.removeNodeOp(h, rm))
}
