package kubeadm

import (
	"fmt"
	"strconv"
	"strings"
)

// Release is what deploy needs to know about one minor version of
// Kubernetes to drive its kubeadm: the configuration API it reads, the
// sandbox image its kubelet expects, and the preflight checks a build of it
// may trip over. Every row was read from that minor's
// cmd/kubeadm/app/constants/constants.go and preflight/checks.go
// (k8s.io/kubernetes from the Go module proxy, the patch named in the row).
type Release struct {
	Minor int // 26 for v1.26.x
	// API is the kubeadm configuration API deploy renders for it: the
	// newest one this kubeadm reads.
	API *API
	// Pause is the tag of registry.k8s.io/pause kubeadm expects as the
	// sandbox image (constants.PauseVersion).
	Pause string
	// Etcd and CoreDNS are the image tags kubeadm pulls
	// (constants.DefaultEtcdVersion, CoreDNSVersion) at the patch read.
	Etcd, CoreDNS string
	// BracketFixedIn is the first patch whose HTTPProxyCIDR preflight check
	// writes an IPv4 test address without brackets (net.JoinHostPort);
	// before it, checks.go brackets every 16-byte IP, IPv4 included, and a
	// kubeadm built with a Go whose net/url refuses "[10.96.0.1]" (Go
	// 1.24.8, 1.25.2 and later: the fix of CVE-2025-47912) fails that check
	// on every init and join. 0: fixed from the first patch; -1: never fixed
	// in this minor. Patches between the last broken one and this one that
	// we could not read are counted as broken (a skipped advisory check is
	// harmless; a failed init is not).
	BracketFixedIn int
}

// The window: every minor deploy renders kubeadm configurations for.
const (
	MinMinor = 26
	MaxMinor = 34
)

// releases is the table, one row per minor of the window.
var releases = []Release{
	// v1.26.15: etcd 3.5.10-0, CoreDNS v1.9.3, pause 3.9; checks.go brackets IPv4.
	{Minor: 26, API: v1beta3, Pause: "3.9", Etcd: "3.5.10-0", CoreDNS: "v1.9.3", BracketFixedIn: -1},
	// v1.27.0
	{Minor: 27, API: v1beta3, Pause: "3.9", Etcd: "3.5.7-0", CoreDNS: "v1.10.1", BracketFixedIn: -1},
	// v1.28.0
	{Minor: 28, API: v1beta3, Pause: "3.9", Etcd: "3.5.9-0", CoreDNS: "v1.10.1", BracketFixedIn: -1},
	// v1.29.0
	{Minor: 29, API: v1beta3, Pause: "3.9", Etcd: "3.5.10-0", CoreDNS: "v1.11.1", BracketFixedIn: -1},
	// v1.30.14 (end of life; the last patch still brackets IPv4)
	{Minor: 30, API: v1beta3, Pause: "3.9", Etcd: "3.5.15-0", CoreDNS: "v1.11.3", BracketFixedIn: -1},
	// v1.31.0 brackets, v1.31.14 does not; v1beta4 from here on.
	{Minor: 31, API: v1beta4, Pause: "3.10", Etcd: "3.5.24-0", CoreDNS: "v1.11.3", BracketFixedIn: 14},
	// v1.32.2 brackets, v1.32.13 does not.
	{Minor: 32, API: v1beta4, Pause: "3.10", Etcd: "3.5.24-0", CoreDNS: "v1.11.3", BracketFixedIn: 13},
	// v1.33.0 brackets, v1.33.6 does not.
	{Minor: 33, API: v1beta4, Pause: "3.10", Etcd: "3.5.24-0", CoreDNS: "v1.12.0", BracketFixedIn: 6},
	// v1.34.0 brackets, v1.34.2 does not; v1.34.4: etcd 3.6.5-0, CoreDNS v1.12.1, pause 3.10.1.
	{Minor: 34, API: v1beta4, Pause: "3.10.1", Etcd: "3.6.5-0", CoreDNS: "v1.12.1", BracketFixedIn: 2},
}

// Version is a parsed Kubernetes version "v1.26.15".
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// ParseVersion parses "v1.26.15" or "1.26.15" (a pre-release or build
// suffix after the patch is ignored).
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("the Kubernetes version %q is not of the form v1.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 999 || p == "" || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("the Kubernetes version %q is not of the form v1.MINOR.PATCH", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// WindowText names the supported range, for errors: "v1.26–v1.34".
func WindowText() string { return fmt.Sprintf("v1.%d–v1.%d", MinMinor, MaxMinor) }

// ErrOutsideWindow is wrapped by ForVersion's error for a version deploy
// does not render configurations for.
var ErrOutsideWindow = fmt.Errorf("outside the Kubernetes versions deploy supports (%s)", WindowText())

// ForVersion returns the release row of version ("v1.26.15"), or an error
// naming the supported range.
func ForVersion(version string) (Release, error) {
	v, err := ParseVersion(version)
	if err != nil {
		return Release{}, err
	}
	if v.Major == 1 {
		for _, r := range releases {
			if r.Minor == v.Minor {
				return r, nil
			}
		}
	}
	return Release{}, fmt.Errorf("the bundle's Kubernetes %s is %w: build the bundle with a Kubernetes of that range (the built-in stack ships v1.26.15)", v, ErrOutsideWindow)
}

// Releases returns the rows of the window, oldest first.
func Releases() []Release { return append([]Release(nil), releases...) }

// SandboxImage is the pause image kubeadm of this release expects
// containerd to run pods with.
func (r Release) SandboxImage() string { return ImageRepository + "/pause:" + r.Pause }
