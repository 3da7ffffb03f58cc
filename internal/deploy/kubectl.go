package deploy

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
)

// hostLabel is an inventory host name (what PlanFile, read from the state
// directory, may name in a message).
var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// KubectlHint says where a kubectl for the cluster of the deployment in
// stateDir is, for deploy kubeconfig to print beside the kubeconfig's
// path: this machine's kubectl with that kubeconfig, or the bundle's
// kubectl, which /packages installs on the masters, with the admin
// kubeconfig kubeadm left on the first master (named from PlanFile's
// /kubernetes/init phase when it is there).
func KubectlHint(stateDir, kubeconfig string) string {
	first := "the first master"
	if saved, err := state.Dir(stateDir).ReadPlan(); err == nil {
		if h := initHost(saved.Phases); hostLabel.MatchString(h) {
			first = h
		}
	}
	var b strings.Builder
	if p, err := exec.LookPath("kubectl"); err == nil {
		fmt.Fprintf(&b, "kubectl: this machine has %s (use one within a minor version of the cluster's):\n", p)
	} else {
		b.WriteString("kubectl: this machine has none. The bundle carries kubectl's RPM (bundle inspect BUNDLE lists its path;\n" +
			"  bundle cat BUNDLE repos/ID/Packages/kubectl-VERSION.rpm >kubectl.rpm && rpm -i kubectl.rpm). With it:\n")
	}
	fmt.Fprintf(&b, "  export KUBECONFIG=%s\n  kubectl get nodes\n", kubeconfig)
	fmt.Fprintf(&b, "Or on a master, where /packages installed the bundle's kubectl; on %s, as root:\n", first)
	fmt.Fprintf(&b, "  kubectl --kubeconfig %s get nodes\n", kubeadm.AdminConf)
	return b.String()
}

// initHost is the host of the first leaf under /kubernetes/init.
func initHost(views []plan.PhaseView) string {
	for _, v := range views {
		if v.ID == "/kubernetes/init" && len(v.Children) > 0 {
			return v.Children[0].Host
		}
		if h := initHost(v.Children); h != "" {
			return h
		}
	}
	return ""
}
