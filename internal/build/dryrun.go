package build

import (
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/manifest"
)

// DryRun prints what a build of s would fetch, with counts, and fetches
// nothing.
func DryRun(w io.Writer, s *manifest.Stack) error {
	imgs := s.Images()
	files := s.Files()
	fmt.Fprintf(w, "stack %s %s (%s)\n", s.Metadata.Name, s.Metadata.Version, s.Spec.Platform)
	for _, c := range s.Spec.Components {
		fmt.Fprintf(w, "component %s: %d images, %d files, %d rpms, %d charts\n", c.Name, len(c.Images), len(c.Files), len(c.RPMs), len(c.Charts))
		for _, i := range c.Images {
			from := s.Spec.RegistryMirrors.Rewrite(i.Canonical)
			if from != i.Canonical {
				fmt.Fprintf(w, "  image %s (from %s)\n", i.Ref, from)
			} else {
				fmt.Fprintf(w, "  image %s\n", i.Ref)
			}
		}
		for _, f := range c.Files {
			src := f.Path
			if f.URL != "" {
				src = f.URL
			}
			fmt.Fprintf(w, "  file %s\n", src)
		}
		for _, r := range c.RPMs {
			fmt.Fprintf(w, "  rpm %s\n", r.Spec)
		}
		for _, ch := range c.Charts {
			fmt.Fprintf(w, "  chart %s\n", ch.LockKey())
		}
	}
	fmt.Fprintf(w, "total: %d images, %d files, %d rpms requested (before dependency closure), %d charts\n", len(imgs), len(files), len(s.RPMs()), len(s.Charts()))
	return nil
}
