package build

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/manifest"
)

// StackVersions is what the compatibility matrix reads of a stack: its
// images (Kubernetes, KubeSphere, Calico) and its RPMs (containerd).
func StackVersions(s *manifest.Stack) compat.Stack {
	var images, rpms []string
	for _, img := range s.Images() {
		images = append(images, img.Canonical)
	}
	for _, r := range s.RPMs() {
		rpms = append(rpms, r.Spec)
	}
	return compat.FromArtifacts(images, rpms)
}

// CheckCompat checks the stack against the compatibility matrix (see
// internal/compat): KubeSphere, Calico and containerd against its
// Kubernetes, and its Kubernetes against the versions deploy supports. The
// rows named in allow (--allow-incompatible) are only warned about, on warn.
// `bundle lint`, `bundle build --dry-run` and `bundle build` (before it
// fetches anything) run it.
func CheckCompat(s *manifest.Stack, allow []string, warn io.Writer) error {
	overridden, err := compat.Apply(compat.CheckStack(StackVersions(s)), allow)
	for _, v := range overridden {
		fmt.Fprintln(warn, compat.Warning(v))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.File, err)
	}
	return nil
}

// checkCompat is the build's step: CheckCompat with the build's overrides.
func (b *builder) checkCompat() error {
	return CheckCompat(b.o.Stack, b.o.AllowIncompatible, b.warn())
}

// warn is where the build's warnings go.
func (b *builder) warn() io.Writer {
	if b.o.Warn == nil {
		return io.Discard
	}
	return b.o.Warn
}

// recordOverrides records in bundle.json the rows the build overrode, so
// that deploy warns about them again (compat.AnnotationOverridden).
func (b *builder) recordOverrides(idx *bundle.Index) {
	if len(b.o.AllowIncompatible) == 0 {
		return
	}
	rows := slices.Clone(b.o.AllowIncompatible)
	slices.Sort(rows)
	if idx.Annotations == nil {
		idx.Annotations = map[string]string{}
	}
	idx.Annotations[compat.AnnotationOverridden] = strings.Join(slices.Compact(rows), ",")
}
