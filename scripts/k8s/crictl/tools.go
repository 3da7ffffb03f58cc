//go:build tools

// Package crictl pins crictl, built for the cri-tools RPM.
package crictl

import _ "github.com/kubernetes-sigs/cri-tools/cmd/crictl"
