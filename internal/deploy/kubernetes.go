package deploy

import (
	"context"
	"fmt"

	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/stack"
)

// kubernetesPhase is /kubernetes: kubeadm brings up the cluster, one step
// after another:
//
//	/kubernetes/init/<first master>   kubeadm init
//	/kubernetes/masters/<master>...   the other masters join, one at a time
//	/kubernetes/workers/<worker>...   the workers join, in parallel
//	/kubernetes/network/<node>...     each node's pod network
//	/kubernetes/cni/<step>...         the bundle's CNI, when it has one
//	/kubernetes/ready/<first master>  every node Ready, kube-system running,
//	                                  one etcd member per master
//	/kubernetes/upkeep/<master>...    the certificate renewal and etcd
//	                                  snapshot timers
//
// The pod network is the bundle's CNI when a component is marked as one
// (bundle.Component.PodNetwork: Calico in the KubeSphere stack): then
// /kubernetes/network/<node> takes the deployer's own bridge off the node
// and /kubernetes/cni installs the CNI's manifests or charts from the
// deploy node, as /stack would, before the nodes are waited on. Without
// one, /kubernetes/network gives each node the deployer's bridge on its
// pod CIDR and routes to the other nodes' pods.
//
// It is nil when the bundle carries no Kubernetes (KubernetesVersion).
func (d *Deployment) kubernetesPhase(id string) *plan.Phase {
	if d.k8sVersion == "" || len(d.masters) == 0 {
		return nil
	}
	k, first := d.kubeadmSite(), d.masters[0]
	var workers []inventory.Host
	for _, h := range d.nodes {
		if !h.HasRole(inventory.RoleMaster) {
			workers = append(workers, h)
		}
	}
	var masters *plan.Phase
	if len(d.masters) > 1 {
		masters = d.eachHost("/kubernetes/masters", "The other masters join, one at a time", d.masters[1:], "kubeadm join --control-plane", k.JoinMaster)
		masters.Sequential = true
	}
	return plan.Steps(id, "Kubernetes with kubeadm "+d.k8sVersion, present(
		d.oneHost("/kubernetes/init", "kubeadm init on the first master", first, "kubeadm init", k.InitFirst),
		masters,
		d.eachHost("/kubernetes/workers", "The workers join", workers, "kubeadm join", k.JoinWorker),
		d.networkPhase(k),
		d.cniPhase("/kubernetes/cni", first),
		d.oneHost("/kubernetes/ready", "The cluster is ready", first, "Nodes, kube-system and etcd", k.ClusterReady),
		d.upkeepPhase(),
	)...)
}

// upkeepPhase is /kubernetes/upkeep: on each master, the timers that renew
// its certificates before they expire and snapshot its etcd member daily
// (steps.Upkeep; the i-th master's run 10·i minutes after the one before
// it).
func (d *Deployment) upkeepPhase() *plan.Phase {
	children := make([]*plan.Phase, len(d.masters))
	for i, m := range d.masters {
		children[i] = d.hostPhase("/kubernetes/upkeep", "Certificate renewal and etcd snapshot timers", steps.Upkeep(i, d.etcdBackup()))(m)
	}
	return plan.Group("/kubernetes/upkeep", "Each master renews its certificates and snapshots etcd", children...)
}

// cluster returns the settings of the site's cluster. With a VIP, every
// node reaches the apiservers through haproxy on it; with one master,
// directly.
func (d *Deployment) cluster() kubeadm.Cluster { return kubeadm.SiteCluster(d.inv, d.k8sVersion) }

// kubeadmSite is what the kubeadm steps (internal/kubeadm/steps) need of
// this deployment.
func (d *Deployment) kubeadmSite() *steps.Site {
	return &steps.Site{Cluster: d.cluster(), Index: d.index, State: d.state, Redactor: d.red,
		AllowIncompatible: d.cfg.AllowIncompatible, First: d.masters[0], Masters: len(d.masters), Nodes: len(d.nodes), Dial: d.runner}
}

// networkPhase is /kubernetes/network: on each node, the deployer's bridge
// when the bundle has no CNI, else its removal.
func (d *Deployment) networkPhase(k *steps.Site) *plan.Phase {
	if len(stack.NetworkSteps(d.index)) > 0 {
		return d.eachHost("/kubernetes/network", "Each node leaves the pod network to the bundle's CNI", d.nodes, "No deployer bridge", steps.DropBridge)
	}
	return d.eachHost("/kubernetes/network", "Each node's pod network", d.nodes, "Pod network", k.PodNetwork)
}

// cniPhase is /kubernetes/cni (and deploy upgrade's /upgrade/cni, as id):
// the steps of the bundle's pod network component (stack.NetworkSteps),
// from the deploy node with the cluster-admin kubeconfig, first copied from
// the first master. Nil when the bundle has no CNI.
func (d *Deployment) cniPhase(id string, first inventory.Host) *plan.Phase {
	cni := stack.NetworkSteps(d.index)
	if len(cni) == 0 {
		return nil
	}
	children := make([]*plan.Phase, len(cni))
	for i, s := range cni {
		p := d.stepPhase(id, s) // tried once, as /stack's steps: it waits for its rollouts
		p.Title = "Pod network: " + p.Title
		run, dry := p.Run, p.DryRun
		p.Run = func(ctx context.Context) error {
			r, err := d.runner(ctx, first)
			if err != nil {
				return err
			}
			if err := d.kubeadmSite().FetchKubeconfig(ctx, &remote.Host{Runner: r, Host: first}); err != nil {
				return err
			}
			return run(ctx)
		}
		p.DryRun = func() []string {
			return append([]string{fmt.Sprintf("# on %s: cat %s (copied to %s)", first.Name, kubeadm.AdminConf, d.state.KubeconfigPath())}, dry()...)
		}
		children[i] = p
	}
	return plan.Steps(id, "The bundle's pod network (component "+cni[0].Component+")", children...)
}
