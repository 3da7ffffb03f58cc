package kubeadm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxVersionOutput bounds what `kubeadm version -o json` may print: the
// answer comes from a host and is read as hostile.
const MaxVersionOutput = 64 << 10

// Build is what `kubeadm version -o json` says of the kubeadm on a node.
type Build struct {
	Version   Version
	GoVersion string // "go1.26.8"
}

// ParseBuild parses the output of `kubeadm version -o json`.
func ParseBuild(out []byte) (Build, error) {
	if len(out) > MaxVersionOutput {
		return Build{}, fmt.Errorf("kubeadm version printed %d bytes, more than the %d a version takes", len(out), MaxVersionOutput)
	}
	var v struct {
		ClientVersion struct {
			GitVersion string `json:"gitVersion"`
			GoVersion  string `json:"goVersion"`
		} `json:"clientVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Build{}, fmt.Errorf("kubeadm version -o json: %w", err)
	}
	ver, err := ParseVersion(v.ClientVersion.GitVersion)
	if err != nil {
		return Build{}, fmt.Errorf("kubeadm version -o json: %w", err)
	}
	return Build{Version: ver, GoVersion: v.ClientVersion.GoVersion}, nil
}

// CheckBuild fails when the kubeadm on a node is not the version the
// cluster is set up at: the bundle's kubeadm RPM and its kube-apiserver
// image disagree, and kubeadm would refuse or mis-set the cluster.
func CheckBuild(c Cluster, b Build, node string) error {
	want, err := ParseVersion(c.Version)
	if err != nil {
		return err
	}
	if b.Version != want {
		return fmt.Errorf("kubeadm on %s is %s, but the bundle's Kubernetes (its kube-apiserver image) is %s: build the bundle with the kubeadm, kubelet and kubectl RPMs of %s", node, b.Version, want, want)
	}
	return nil
}

// Preflight checks a kubeadm build may have to skip.
const (
	// CheckHTTPProxyCIDR is kubeadm's advisory check that no HTTP proxy
	// catches the cluster's CIDRs (an air-gapped site has none).
	CheckHTTPProxyCIDR = "HTTPProxyCIDR"
	// CheckSystemVerification is kubeadm's check of the kernel and
	// cgroups; see internal/compat for when it must be skipped.
	CheckSystemVerification = "SystemVerification"
)

// PreflightIgnores returns the preflight checks this release's kubeadm,
// in build b, must skip to run at all: HTTPProxyCIDR when the release
// brackets IPv4 test addresses (BracketFixedIn) and b was built with a Go
// whose net/url refuses them. Upstream's own builds of those releases used
// older Go and run the check; builds made with a newer Go (the test site's,
// from module-proxy source) would fail every init and join on it.
func (r Release) PreflightIgnores(b Build) []string {
	broken := r.BracketFixedIn < 0 || b.Version.Patch < r.BracketFixedIn
	if broken && goRefusesBracketedIPv4(b.GoVersion) {
		return []string{CheckHTTPProxyCIDR}
	}
	return nil
}

// goRefusesBracketedIPv4 reports whether a Go release's net/url refuses an
// IPv4 address in brackets ("invalid IP-literal"): go1.24.8, go1.25.2 and
// every later release (the fix of CVE-2025-47912).
func goRefusesBracketedIPv4(goVersion string) bool {
	v, _, _ := strings.Cut(strings.TrimPrefix(goVersion, "go"), " ")
	if i := strings.IndexAny(v, "rcbeta"); i >= 0 {
		v = v[:i] // "1.26rc1": a pre-release of 1.26.0
	}
	parts := strings.Split(v, ".")
	n := make([]int, 3)
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || i > 2 {
			return false // "devel", or nothing we know
		}
		n[i] = x
	}
	switch major, minor, patch := n[0], n[1], n[2]; {
	case major != 1:
		return major > 1
	case minor >= 26:
		return true
	case minor == 25:
		return patch >= 2
	case minor == 24:
		return patch >= 8
	}
	return false
}
