package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// SameVersion checks, on the first master, that the cluster's masters run
// the Kubernetes version of this bundle: a node is added at the version
// the cluster runs now (sealos #4856 joined new nodes at the pre-upgrade
// version). Final when they differ: another attempt cannot change it.
func (s *Site) SameVersion(ctx context.Context, h *remote.Host) error {
	nodes, err := kubeletVersions(ctx, h, "-l node-role.kubernetes.io/control-plane ")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.version != s.Cluster.Version {
			return plan.Final(fmt.Errorf("master %s runs Kubernetes %s, the bundle carries %s: add nodes with the bundle the cluster runs, or upgrade the cluster to this one first",
				n.name, n.version, s.Cluster.Version))
		}
	}
	return nil
}

// nodeVersion is a node's name and its kubelet's version, as the cluster
// reports them, escaped for the terminal.
type nodeVersion struct{ name, version string }

// kubeletVersions lists, on a master, the nodes (selected by selector, a
// kubectl flag with a trailing space, or "") with their kubelets'
// versions. A dry run lists none.
func kubeletVersions(ctx context.Context, h *remote.Host, selector string) ([]nodeVersion, error) {
	out, err := h.Out(ctx, kubectl+"get nodes "+selector+`-o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kubeletVersion}{"\n"}{end}'`)
	if err != nil || h.Dry {
		return nil, err
	}
	var nodes []nodeVersion
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			nodes = append(nodes, nodeVersion{termtext.Escape(f[0]), termtext.Escape(f[1])})
		}
	}
	return nodes, nil
}

// etcdMember is one member in etcd's member list.
type etcdMember struct {
	ID         string   `json:"ID"`
	Name       string   `json:"name"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

func (s *Site) etcdMembers(ctx context.Context, h *remote.Host) ([]etcdMember, error) {
	out, err := h.Out(ctx, kubeadm.EtcdMembersCommand)
	if err != nil || h.Dry {
		return nil, err
	}
	var list struct {
		Members []etcdMember `json:"members"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("etcd's member list on %s: %w", h.Host.Name, err)
	}
	return list.Members, nil
}

// etcdCurl is curl to etcd with the apiserver's client certificate.
const etcdCurl = `curl -sS --fail --max-time 5 --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt ` +
	`--key /etc/kubernetes/pki/apiserver-etcd-client.key `

// CheckRemoval refuses, on the first master, to remove the last master,
// or a master whose removal would leave the healthy members of etcd below
// a quorum of the members that stay. Final: another attempt cannot change
// it.
func (s *Site) CheckRemoval(name string, master bool) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		if !master {
			return nil
		}
		members, err := s.etcdMembers(ctx, h)
		if err != nil || h.Dry {
			return err
		}
		stay, healthy := 0, 0
		for _, m := range members {
			if m.Name == name || m.IsLearner {
				continue
			}
			stay++
			if len(m.ClientURLs) == 0 {
				continue
			}
			out, _ := h.Out(ctx, etcdCurl+sshx.Quote(m.ClientURLs[0]+"/health"))
			if strings.Contains(out, `"health":"true"`) {
				healthy++
			}
		}
		if stay == 0 {
			return plan.Final(fmt.Errorf("%s is the last member of etcd: a cluster needs at least one master", name))
		}
		if healthy < stay/2+1 {
			return plan.Final(fmt.Errorf("removing %s would leave %d healthy of %d etcd members, below their quorum of %d: bring the other masters back first",
				name, healthy, stay, stay/2+1))
		}
		plan.Logf(ctx, "etcd keeps %d members, %d healthy, after %s leaves", stay, healthy, name)
		return nil
	}
}

// Drain cordons node name and evicts its pods (PodDisruptionBudgets are
// respected; DaemonSets stay), within timeout. A node the cluster no
// longer has is drained already.
func Drain(name string, timeout time.Duration) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		n := sshx.Quote(name)
		cmd := fmt.Sprintf("if %sget node %s >/dev/null 2>&1; then %sdrain %s --ignore-daemonsets --delete-emptydir-data --timeout=%s; fi",
			kubectl, n, kubectl, n, timeout)
		if err := h.Sh(ctx, cmd); err != nil {
			return fmt.Errorf("draining %s: %w; a PodDisruptionBudget may forbid the eviction (kubectl get pdb -A), or give --drain=false to skip the drain", name, err)
		}
		return nil
	}
}

// RemoveEtcdMember removes the etcd member of master name, if it is one.
func (s *Site) RemoveEtcdMember(name string) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		members, err := s.etcdMembers(ctx, h)
		if err != nil {
			return err
		}
		if h.Dry {
			return h.Sh(ctx, etcdCurl+`-X POST -d '{"ID":"<member id of `+name+`>"}' https://127.0.0.1:2379/v3/cluster/member/remove`)
		}
		for _, m := range members {
			if m.Name != name {
				continue
			}
			if strings.Trim(m.ID, "0123456789") != "" {
				return fmt.Errorf("etcd's member list on %s: member %s has id %q", h.Host.Name, name, termtext.Escape(m.ID))
			}
			if err := h.Sh(ctx, etcdCurl+`-X POST -d '{"ID":"`+m.ID+`"}' https://127.0.0.1:2379/v3/cluster/member/remove`); err != nil {
				return fmt.Errorf("removing %s's etcd member: %w", name, err)
			}
			plan.Logf(ctx, "etcd member %s (%s) removed", name, m.ID)
			return nil
		}
		plan.Logf(ctx, "%s is not a member of etcd", name)
		return nil
	}
}

// DeleteNode deletes node name from the cluster.
func DeleteNode(name string) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		return h.Sh(ctx, kubectl+"delete node "+sshx.Quote(name)+" --ignore-not-found")
	}
}

// ResetNode undoes kubeadm on a node taken out of the cluster: kubeadm
// reset, the deployer's kubeadm marks and configuration, kubelet stopped
// and disabled; on a master also keepalived and haproxy, so it can no
// longer take the VIP.
func ResetNode(master bool) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		cmd := fmt.Sprintf("if command -v kubeadm >/dev/null; then kubeadm reset -f --cri-socket %s; fi; rm -rf %s; systemctl disable --now kubelet || true",
			kubeadm.CRISocket, kubeadm.Dir)
		if master {
			cmd += "; systemctl disable --now keepalived haproxy || true"
		}
		return h.Sh(ctx, cmd)
	}
}

// NodeJoined waits, on the first master, until node name is Ready and
// every kube-system pod is ready, and checks that etcd has one voting
// member per control-plane node; then it refreshes the state directory's
// kubeconfig. (ClusterReady counts the inventory's nodes, some of which
// may not have been added yet.)
func (s *Site) NodeJoined(name string) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		if err := h.Sh(ctx, kubectl+"wait --for=condition=Ready node/"+sshx.Quote(name)+" --timeout=10m"); err != nil {
			return fmt.Errorf("node %s is not Ready after 10 minutes (kubectl describe node %s): %w", name, name, err)
		}
		if err := h.Sh(ctx, kubectl+"-n kube-system wait --for=condition=Ready pod --all --timeout=10m || { "+kubectl+"-n kube-system get pods -o wide; exit 1; }"); err != nil {
			return fmt.Errorf("kube-system pods are not ready after 10 minutes (kubectl -n kube-system get pods in the host log): %w", err)
		}
		out, err := h.Out(ctx, kubectl+"get nodes -l node-role.kubernetes.io/control-plane -o name")
		if err != nil {
			return err
		}
		members, err := s.etcdVoters(ctx, h)
		if err != nil || h.Dry {
			return err
		}
		if masters := len(strings.Fields(out)); masters != members {
			return fmt.Errorf("etcd has %d voting member(s), the cluster %d control-plane node(s): see kubectl -n kube-system logs etcd-<master> on the masters", members, masters)
		}
		return s.FetchKubeconfig(ctx, h)
	}
}
