package compat

import (
	"fmt"
	"regexp"
	"strconv"
)

// Host is what the host rows read of a host.
type Host struct {
	Name    string
	Kernel  string // uname -r
	Cgroup  int    // 1 or 2 (0: unknown, not checked)
	ELMajor int    // the EL release of /etc/os-release (0: unknown, not checked)
}

// CheckHost returns every way host h falls outside the host rows for
// Kubernetes kube ("" when the bundle carries none: only the kernel
// minimum and the EL release are checked). bundleEL is the EL release the
// bundle's RPMs were built for (BundleEL; 0 when they name none).
func CheckHost(kube string, h Host, bundleEL int) []Violation {
	var vs []Violation
	kernel, kernelOK := parseSemver(h.Kernel)
	// Kubernetes' own floor: kubeadm's SystemVerification refuses kernels
	// before 3.10 (k8s.io/system-validators, DefaultSysSpec KernelSpec).
	if !kernelOK && h.Kernel != "" {
		vs = append(vs, Violation{Row: RowKernelMinimum, Problem: fmt.Sprintf("%s: uname -r printed %q", h.Name, h.Kernel),
			Rule: "Kubernetes needs a kernel of 3.10 or later, and this release cannot be read", Fix: "check the host's kernel"})
	}
	if kernelOK && kernel.cmp(semver{3, 10}) < 0 {
		vs = append(vs, Violation{Row: RowKernelMinimum, Problem: fmt.Sprintf("%s runs kernel %q", h.Name, h.Kernel),
			Rule: "Kubernetes needs a kernel of 3.10 or later (kubeadm's SystemVerification)", Fix: "upgrade the host's kernel"})
	}
	if bundleEL != 0 && h.ELMajor != 0 && h.ELMajor != bundleEL {
		// The RPMs' dependencies (glibc, systemd, python) are those of the
		// EL release they were built for; yum cannot install them on another.
		vs = append(vs, Violation{Row: RowELRelease, Problem: fmt.Sprintf("%s runs EL%d", h.Name, h.ELMajor),
			Rule: fmt.Sprintf("the bundle's RPMs are built for EL%d (their release tags say .el%d)", bundleEL, bundleEL),
			Fix:  fmt.Sprintf("deploy a bundle built for EL%d (its rpmRepos and rpmBase), or put EL%d on the host", h.ELMajor, bundleEL)})
	}
	if kube == "" {
		return vs
	}
	minor, err := kubeMinor(kube)
	if err != nil {
		return append(vs, Violation{Row: RowKubernetesWindow, Problem: "Kubernetes " + kube, Rule: err.Error(), Fix: "rebuild the bundle"})
	}
	// kubeadm 1.32 and 1.33 fail SystemVerification on kernels before 4.19
	// (kubernetes/kubernetes#129462, kubermatic/kubeone#3590); 1.34 makes
	// it a warning again (kubernetes/kubernetes PR #131919). Overriding the
	// row makes deploy skip that check on the host's kubeadm.
	if kernelOK && (minor == 32 || minor == 33) && kernel.cmp(semver{4, 19}) < 0 {
		vs = append(vs, Violation{Row: RowKernelKubeadm, Problem: fmt.Sprintf("%s runs kernel %q, with Kubernetes %s", h.Name, h.Kernel, kube),
			Rule: "kubeadm 1.32 and 1.33 refuse kernels older than 4.19 (kubernetes#129462)",
			Fix:  "use Kubernetes v1.31 or older, or v1.34 (the built-in stack ships v1.26.15), or a kernel of 4.19 or later (on EL7, ELRepo's kernel-lt)"})
	}
	// cgroup v1: kubelet refuses it by default from 1.35 (failCgroupV1:
	// true, KEP-5573); maintenance mode since 1.31 (kubernetes.io blog,
	// 2024-08-14).
	if h.Cgroup == 1 && minor >= 35 {
		vs = append(vs, Violation{Row: RowCgroupV1, Problem: fmt.Sprintf("%s uses cgroup v1, with Kubernetes %s", h.Name, kube),
			Rule: "kubelet 1.35 and later refuse cgroup v1 by default (KEP-5573, failCgroupV1)",
			Fix:  "use Kubernetes v1.34 or older, or boot the host with cgroup v2 (EL8+: systemd.unified_cgroup_hierarchy=1)"})
	}
	return vs
}

// elTag finds the EL release in an RPM's release field or NEVRA:
// "9.el7", "1.el8_9.x86_64", "3.1.el7.centos".
var elTag = regexp.MustCompile(`\.el([0-9]+)(?:[._]|$)`)

// BundleEL returns the EL release a bundle's RPMs were built for, from
// their NEVRAs' dist tags: the one most of them name, or 0 when none names
// one (packages built without a dist tag, as the test site's).
func BundleEL(nevras []string) int {
	count := map[int]int{}
	best := 0
	for _, n := range nevras {
		if m := elTag.FindStringSubmatch(n); m != nil {
			el, _ := strconv.Atoi(m[1])
			count[el]++
			if count[el] > count[best] || (count[el] == count[best] && el < best) {
				best = el
			}
		}
	}
	return best
}
