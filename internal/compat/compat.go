// Package compat is the compatibility matrix: which KubeSphere, Calico
// and containerd versions work with which Kubernetes, and on which hosts
// (kernel, cgroup version, EL release) a Kubernetes runs. Every row cites
// its source in a comment; ../../../shared/COMPAT.md in the project's
// steering repository gathers them.
//
// `bundle lint` and `bundle build` check a stack against the stack rows
// (CheckStack); deploy's /preflight checks each host against the host rows
// (CheckHost). A combination outside the matrix is a Violation naming the
// row it broke and the fix. An operator or a CI may override a row by its
// name (--allow-incompatible ROW): Apply then turns its violations into
// warnings. The Kubernetes window itself (the versions deploy renders
// kubeadm configurations for) cannot be overridden.
package compat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/kubeadm"
)

// Row names, as --allow-incompatible takes them.
const (
	RowKubernetesWindow     = "kubernetes-window"
	RowKubeSphereKubernetes = "kubesphere-kubernetes"
	RowCalicoKubernetes     = "calico-kubernetes"
	RowContainerdKubernetes = "containerd-kubernetes"
	RowKernelMinimum        = "kernel-minimum"
	RowKernelKubeadm        = "kernel-kubeadm"
	RowCgroupV1             = "cgroup-v1"
	RowELRelease            = "el-release"
)

// rows lists every row name with whether it may be overridden.
var rows = map[string]bool{
	RowKubernetesWindow:     false,
	RowKubeSphereKubernetes: true,
	RowCalicoKubernetes:     true,
	RowContainerdKubernetes: true,
	RowKernelMinimum:        false,
	RowKernelKubeadm:        true,
	RowCgroupV1:             true,
	RowELRelease:            true,
}

// Rows returns the names of the rows that may be overridden, sorted.
func Rows() []string {
	var out []string
	for r, ok := range rows {
		if ok {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// Violation is one combination outside the matrix.
type Violation struct {
	Row     string // the row's name
	Problem string // what the stack or host has
	Rule    string // what the row says, with its source
	Fix     string
}

func (v Violation) Error() string {
	msg := fmt.Sprintf("%s, outside the compatibility matrix (row %s: %s); %s", v.Problem, v.Row, v.Rule, v.Fix)
	if rows[v.Row] {
		msg += fmt.Sprintf(" (--allow-incompatible %s deploys it anyway, unsupported)", v.Row)
	}
	return msg
}

// Error is every violation not overridden.
type Error struct{ Violations []Violation }

func (e *Error) Error() string {
	if len(e.Violations) == 1 {
		return e.Violations[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d combinations outside the compatibility matrix:", len(e.Violations))
	for _, v := range e.Violations {
		b.WriteString("\n  - " + v.Error())
	}
	return b.String()
}

// Apply splits vs by the rows the operator named: the violations of named
// rows come back as overridden (to be warned about), the others as an
// *Error. A name that is not an overridable row is an error itself.
func Apply(vs []Violation, allow []string) (overridden []Violation, err error) {
	for _, a := range allow {
		if ok, known := rows[a]; !known || !ok {
			return nil, fmt.Errorf("--allow-incompatible %s: no such row that may be overridden; the rows are %s", a, strings.Join(Rows(), ", "))
		}
	}
	var errs []Violation
	for _, v := range vs {
		if slices.Contains(allow, v.Row) {
			overridden = append(overridden, v)
		} else {
			errs = append(errs, v)
		}
	}
	if len(errs) > 0 {
		return overridden, &Error{Violations: errs}
	}
	return overridden, nil
}

// Warning is the text an overridden violation is warned with.
func Warning(v Violation) string {
	return fmt.Sprintf("warning: compatibility row %s overridden (--allow-incompatible): %s; row %s says %s. This combination is unsupported.", v.Row, v.Problem, v.Row, v.Rule)
}

// semver is a dotted version, compared number by number; missing parts
// are 0.
type semver []int

// parseSemver reads "v3.4.1", "1.6.33", "4.19.0-1.el7" (the part before
// the first '-' or '+'); ok is false for anything else.
func parseSemver(s string) (semver, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(s, "-+_"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return nil, false
	}
	var v semver
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(v) == 4 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

func (v semver) part(i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

func (v semver) cmp(w semver) int {
	for i := range max(len(v), len(w)) {
		if c := v.part(i) - w.part(i); c != 0 {
			return c
		}
	}
	return 0
}

func (v semver) String() string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// minors is an inclusive range of Kubernetes 1.x minors.
type minors struct{ from, to int }

func (m minors) has(minor int) bool { return minor >= m.from && minor <= m.to }
func (m minors) String() string     { return fmt.Sprintf("v1.%d–v1.%d", m.from, m.to) }

// kubeMinor returns the minor of a Kubernetes version, or an error naming
// it; it does not check the window.
func kubeMinor(kube string) (int, error) {
	v, err := kubeadm.ParseVersion(kube)
	if err != nil {
		return 0, err
	}
	if v.Major != 1 {
		return 0, fmt.Errorf("version %s of Kubernetes: only 1.x is known", kube)
	}
	return v.Minor, nil
}

// AnnotationOverridden is the bundle.json annotation in which `bundle
// build` records the rows its --allow-incompatible overrode
// (comma-separated), so that deploy warns about them again.
const AnnotationOverridden = "appliance.compat.overridden"

// Overridden returns the rows a bundle's annotations record as overridden
// at build time. Names that are not overridable rows are left out (the
// annotation is signed, but read as data).
func Overridden(annotations map[string]string) []string {
	var out []string
	for _, r := range strings.Split(annotations[AnnotationOverridden], ",") {
		if rows[r] {
			out = append(out, r)
		}
	}
	return out
}
