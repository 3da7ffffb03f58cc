package kubeadm

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// The commands and rules of a cluster upgrade (deploy upgrade): kubeadm
// moves a cluster one minor at a time, patches in any order upwards.

// CheckUpgrade says whether a cluster running from may be upgraded to to:
// both in the window, not downwards, at most one minor up. A skip names the
// minor to upgrade to first. from == to is allowed: nothing of Kubernetes
// changes, and the rest of an upgrade (packages, images, stack) still runs.
func CheckUpgrade(from, to string) error {
	f, err := ParseVersion(from)
	if err != nil {
		return fmt.Errorf("the cluster's version: %w", err)
	}
	t, err := ParseVersion(to)
	if err != nil {
		return fmt.Errorf("the bundle's version: %w", err)
	}
	if _, err := ForVersion(to); err != nil {
		return err
	}
	switch {
	case t.Major != f.Major:
		return fmt.Errorf("the cluster runs Kubernetes %s and the bundle carries %s: deploy upgrades within Kubernetes %d only", f, t, f.Major)
	case t.Minor < f.Minor || (t.Minor == f.Minor && t.Patch < f.Patch):
		return fmt.Errorf("the cluster runs Kubernetes %s, newer than the bundle's %s: kubeadm does not downgrade; upgrade with a bundle of %s or later", f, t, f)
	case t.Minor > f.Minor+1:
		return fmt.Errorf("the cluster runs Kubernetes %s and the bundle carries %s: kubeadm moves one minor at a time; upgrade with a bundle of Kubernetes v%d.%d first, then with this one",
			f, t, f.Major, f.Minor+1)
	}
	return nil
}

// UpgradedPath marks a node that kubeadm upgrade completed on for one
// version (UpgradedPath + "-v1.26.15"): a resumed upgrade does not run
// kubeadm there again.
const UpgradedPath = Dir + "/upgraded"

// UpgradeCommand runs kubeadm's upgrade of a node to version under the
// node's kubeadm lock, unless the node's mark says it ran already, and
// marks it: on the first master `kubeadm upgrade plan` (logged) then
// `kubeadm upgrade apply`, on every other node `kubeadm upgrade node`. A
// master's static pods keep its patches (the apiserver's bind address,
// RenderAPIServerPatch), which kubeadm applies only when told where they
// are. kubeadm checks first that it is itself at version.
func UpgradeCommand(version string, first, master bool) string {
	v := sshx.Quote(version)
	var run string
	switch {
	case first:
		run = fmt.Sprintf("kubeadm upgrade plan %s && kubeadm upgrade apply %s --yes --patches %s", v, v, PatchesDir)
	case master:
		run = "kubeadm upgrade node --patches " + PatchesDir
	default:
		run = "kubeadm upgrade node"
	}
	mark := UpgradedPath + "-" + version
	return fmt.Sprintf(`exec 9>%s; flock 9; [ -f %s ] && exit 0; have=$(kubeadm version -o short) || exit 1; `+
		`if [ "$have" != %s ]; then echo "kubeadm on this node is $have, not %s: its package was not upgraded" >&2; exit 1; fi; %s && touch %s`,
		LockPath, sshx.Quote(mark), v, strings.ReplaceAll(version, "'", ""), run, sshx.Quote(mark))
}

// ClusterConfigVersion reads kubernetesVersion from the text of kubeadm's
// ClusterConfiguration (the kubeadm-config ConfigMap's data), the version
// the cluster runs: kubeadm upgrade apply moves it.
func ClusterConfigVersion(text string) (string, error) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "kubernetesVersion:"); ok {
			v = strings.Trim(strings.TrimSpace(v), `"'`)
			if _, err := ParseVersion(v); err != nil {
				return "", fmt.Errorf("kubeadm-config: %w", err)
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("kubeadm-config names no kubernetesVersion: is this a cluster kubeadm made?")
}
