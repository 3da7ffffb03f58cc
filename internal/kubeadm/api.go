package kubeadm

import (
	"fmt"
	"strings"
)

// API is one version of kubeadm's configuration API, with every way it
// differs from the others in what deploy renders. The renderers in
// config.go ask it; nothing else looks at the version.
type API struct {
	// Group is the apiVersion of kubeadm's kinds.
	Group string
	// ArgList: nodeRegistration.kubeletExtraArgs (and every extraArgs) is
	// a list of {name, value} (v1beta4), not a map of name to value
	// (v1beta3).
	ArgList bool
}

var (
	// v1beta3: kubeadm 1.22 on; the only one kubeadm 1.26–1.30 render
	// for (1.26 refuses v1beta4: "no kind InitConfiguration is registered
	// for version kubeadm.k8s.io/v1beta4").
	v1beta3 = &API{Group: "kubeadm.k8s.io/v1beta3"}
	// v1beta4: kubeadm 1.31 on (1.34 still reads v1beta3, with a
	// deprecation warning per kind).
	v1beta4 = &API{Group: "kubeadm.k8s.io/v1beta4", ArgList: true}
)

// Arg is one command-line argument of a component, as kubeadm's
// configuration gives it (without the leading dashes).
type Arg struct{ Name, Value string }

// args renders key (kubeletExtraArgs, extraArgs) with its arguments, in
// order, at the given indentation; nothing when there are none.
func (a *API) args(indent, key string, args []Arg) string {
	if len(args) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s:\n", indent, key)
	for _, arg := range args {
		if a.ArgList {
			fmt.Fprintf(&b, "%s  - name: %q\n%s    value: %q\n", indent, arg.Name, indent, arg.Value)
		} else {
			fmt.Fprintf(&b, "%s  %q: %q\n", indent, arg.Name, arg.Value)
		}
	}
	return b.String()
}
