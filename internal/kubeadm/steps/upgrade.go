package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/hostsetup"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// The steps of deploy upgrade: s.Cluster.Version is the version the
// cluster moves to (the new bundle's), s.Index the new bundle's.

// KubernetesPackages are the packages a node gets at its own turn of an
// upgrade, not with the other packages: kubeadm before kubeadm upgrade,
// kubelet and kubectl after it.
var KubernetesPackages = []string{"kubeadm", "kubelet", "kubectl"}

// ClusterVersion reads, on a master, the Kubernetes version the cluster
// runs (kubeadm.ClusterConfigVersion of kubeadm-config).
func ClusterVersion(ctx context.Context, h *remote.Host) (string, error) {
	out, err := h.Out(ctx, kubectl+`-n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}'`)
	if err != nil || h.Dry {
		return "", err
	}
	v, err := kubeadm.ClusterConfigVersion(out)
	if err != nil {
		return "", fmt.Errorf("on %s: %w", h.Host.Name, err)
	}
	return v, nil
}

// UpgradeCheck runs on the first master before anything changes: the
// cluster's version may move to the bundle's (kubeadm.CheckUpgrade: one
// minor at a time, not down), and so may every node's kubelet (an upgrade
// cut off earlier leaves some nodes at the new version already; a node
// further behind is named). Final: another attempt cannot change it.
func (s *Site) UpgradeCheck(ctx context.Context, h *remote.Host) error {
	from, err := ClusterVersion(ctx, h)
	if err != nil {
		return err
	}
	nodes, err := kubeletVersions(ctx, h, "")
	if err != nil || h.Dry {
		return err
	}
	to := s.Cluster.Version
	if err := kubeadm.CheckUpgrade(from, to); err != nil {
		return plan.Final(err)
	}
	for _, n := range nodes {
		if err := kubeadm.CheckUpgrade(n.version, to); err != nil {
			return plan.Final(fmt.Errorf("node %s: %w", n.name, err))
		}
	}
	plan.Logf(ctx, "the cluster moves from Kubernetes %s to %s", from, to)
	return nil
}

// rpmVersion is version without its "v": the RPMs' VERSION.
func rpmVersion(version string) string { return strings.TrimPrefix(version, "v") }

// installExactly installs the bundle's packages names at the cluster's
// new version, from the bundle's repos only, and checks them with rpm.
func (s *Site) installExactly(ctx context.Context, h *remote.Host, names []string) error {
	var nvrs []string
	for _, n := range names {
		nvr, err := hostsetup.PackageVersion(s.Index, n, rpmVersion(s.Cluster.Version))
		if err != nil {
			return plan.Final(err)
		}
		nvrs = append(nvrs, sshx.Quote(nvr))
	}
	list := strings.Join(nvrs, " ")
	if err := h.Sh(ctx, "yum -y "+hostconf.YumOnly+" install "+list+" && rpm -q "+list); err != nil {
		return fmt.Errorf("installing %s from the bundle's repos on %s: %w", strings.Join(names, ", "), h.Host.Name, err)
	}
	return nil
}

// UpgradeKubeadm returns the step that, on a node, installs the bundle's
// kubeadm and runs kubeadm's upgrade of the node (kubeadm.UpgradeCommand:
// apply on the first master, node elsewhere), once per version.
func (s *Site) UpgradeKubeadm(first, master bool) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		if err := s.installExactly(ctx, h, []string{"kubeadm"}); err != nil {
			return err
		}
		if err := h.Sh(ctx, kubeadm.UpgradeCommand(s.Cluster.Version, first, master)); err != nil {
			what := "upgrade node"
			if first {
				what = "upgrade apply"
			}
			return fmt.Errorf("kubeadm %s on %s: %w; its output is in the host log; the nodes not yet upgraded still run the version before", what, h.Host.Name, err)
		}
		return nil
	}
}

// UpgradeKubelet installs the bundle's kubelet (and kubectl, where the
// node's roles have it) at the new version and restarts kubelet.
func (s *Site) UpgradeKubelet(ctx context.Context, h *remote.Host) error {
	pkgs, err := hostsetup.RolePackages(s.Index, h.Host.Roles)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range KubernetesPackages[1:] {
		if slices.Contains(pkgs, n) {
			names = append(names, n)
		}
	}
	if err := s.installExactly(ctx, h, names); err != nil {
		return err
	}
	return h.Sh(ctx, "systemctl daemon-reload && systemctl restart kubelet")
}

// NodeUpgraded returns the step that, on the first master, waits until
// node name is Ready with its kubelet at the new version, then uncordons
// it.
func (s *Site) NodeUpgraded(name string) func(ctx context.Context, h *remote.Host) error {
	return func(ctx context.Context, h *remote.Host) error {
		n, v := sshx.Quote(name), sshx.Quote(s.Cluster.Version)
		cmd := fmt.Sprintf(`for i in $(seq 150); do v=$(%sget node %s -o jsonpath='{.status.nodeInfo.kubeletVersion}') && [ "$v" = %s ] && break; sleep 2; done; `+
			`if [ "$v" != %s ]; then echo "node %s reports kubelet $v after 5 minutes, not %s" >&2; exit 1; fi`,
			kubectl, n, v, v, strings.ReplaceAll(name, "'", ""), strings.ReplaceAll(s.Cluster.Version, "'", ""))
		if err := h.Sh(ctx, cmd); err != nil {
			return fmt.Errorf("node %s after its upgrade (systemctl status kubelet and journalctl -u kubelet on it): %w", name, err)
		}
		if err := h.Sh(ctx, kubectl+"wait --for=condition=Ready node/"+n+" --timeout=5m"); err != nil {
			return fmt.Errorf("node %s is not Ready 5 minutes after its upgrade (kubectl describe node %s): %w", name, name, err)
		}
		return h.Sh(ctx, kubectl+"uncordon "+n)
	}
}

// UpgradeReady runs on the first master last: every node Ready at the new
// version, every kube-system pod ready; then it refreshes the state
// directory's kubeconfig (kubeadm upgrade apply renewed admin.conf).
func (s *Site) UpgradeReady(ctx context.Context, h *remote.Host) error {
	if err := h.Sh(ctx, kubectl+"wait --for=condition=Ready node --all --timeout=10m"); err != nil {
		return fmt.Errorf("not every node is Ready after the upgrade (kubectl get nodes): %w", err)
	}
	if err := h.Sh(ctx, kubectl+"-n kube-system wait --for=condition=Ready pod --all --timeout=10m || { "+kubectl+"-n kube-system get pods -o wide; exit 1; }"); err != nil {
		return fmt.Errorf("kube-system pods are not ready after the upgrade (kubectl -n kube-system get pods in the host log): %w", err)
	}
	nodes, err := kubeletVersions(ctx, h, "")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.version != s.Cluster.Version {
			return fmt.Errorf("node %s runs kubelet %s after the upgrade to %s", n.name, n.version, s.Cluster.Version)
		}
	}
	return s.FetchKubeconfig(ctx, h)
}

// UpdatePackages updates, on a host, its roles' packages that the bundle's
// repos hold in other versions than the host has (the new bundle's RPM
// closure), except the Kubernetes packages, which each node gets at its
// own turn. yum update leaves a package already at the repos' version as
// it is.
func (s *Site) UpdatePackages(ctx context.Context, h *remote.Host) error {
	pkgs, err := hostsetup.RolePackages(s.Index, h.Host.Roles)
	if err != nil {
		return err
	}
	var names []string
	for _, p := range pkgs {
		if !slices.Contains(KubernetesPackages, p) {
			names = append(names, sshx.Quote(p))
		}
	}
	if len(names) == 0 {
		plan.Logf(ctx, "no packages to update for roles %v", h.Host.Roles)
		return nil
	}
	list := strings.Join(names, " ")
	if err := h.Sh(ctx, "yum -y "+hostconf.YumOnly+" update "+list+" && rpm -q "+list); err != nil {
		return fmt.Errorf("updating packages from the bundle's repos on %s: %w", h.Host.Name, err)
	}
	return nil
}
