package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/factory-appliance/appliance/internal/build/chartset"
	"github.com/factory-appliance/appliance/internal/build/installplan"
	"github.com/factory-appliance/appliance/internal/build/urlfile"
	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lint"
)

// Check runs every check of a build that needs no network, so that `bundle
// lint` and `bundle build --dry-run` refuse what a build would: the
// manifest's Lint, and packaging each local chart (to nowhere), which
// refuses links, a bad Chart.yaml and dependencies missing from charts/.
// It also checks the release names deploy would install the charts under
// (installplan.CheckReleases), where the chart's name is known without
// fetching it. Every problem is reported at once.
func Check(s *manifest.Stack) error {
	var errs []error
	if err := lint.Check(s); err != nil {
		errs = append(errs, err)
	}
	local := map[manifest.Pos]string{} // local chart entry → its Chart.yaml name
	for _, c := range s.Charts() {
		if c.Source != manifest.ChartLocal {
			continue
		}
		if _, err := fs.Stat(s.FS, path.Join(c.Path, "Chart.yaml")); err != nil {
			continue // Lint reported it
		}
		meta, err := charts.Package(s.FS, c.Path, io.Discard)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Pos, err))
			continue
		}
		local[c.Pos] = meta.Name
	}
	errs = append(errs, urlfile.CheckKeys(s)...)
	errs = append(errs, installplan.CheckReleases(s, func(c *manifest.Chart) string {
		switch c.Source {
		case manifest.ChartRepo:
			return c.Name
		case manifest.ChartOCI:
			return path.Base(c.OCI)
		}
		return local[c.Pos]
	}))
	return errors.Join(errs...)
}

// DryRun runs the checks of a build that need no network (Check, the
// options, the lock's entries with Locked, the base bundle's index with
// Base) and fails as the build would; then it prints what the build would
// fetch, with counts, and fetches nothing. o.Output is not needed.
func DryRun(w io.Writer, o Options) error {
	if err := o.check(); err != nil {
		return err
	}
	s := o.Stack
	if err := Check(s); err != nil {
		return err
	}
	if err := CheckCompat(s, o.AllowIncompatible, (&builder{o: o}).warn()); err != nil {
		return err
	}
	if o.Locked {
		if err := o.Lock.Check(s); err != nil {
			return fmt.Errorf("check the lock: %w", err)
		}
	}
	if o.Base != "" {
		if err := (&builder{o: o}).openBase(context.Background()); err != nil {
			return fmt.Errorf("read the base bundle: %w", err)
		}
	}
	imgs := s.Images()
	files := s.Files()
	fmt.Fprintf(w, "stack %s %s (%s)\n", s.Metadata.Name, s.Metadata.Version, s.Spec.Platform)
	for _, c := range s.Spec.Components {
		fmt.Fprintf(w, "component %s: %d images, %d files, %d rpms, %d charts\n", c.Name, len(c.Images), len(c.Files), len(c.RPMs), len(c.Charts))
		for _, i := range c.Images {
			from := s.Spec.RegistryMirrors.With(o.Mirrors).Rewrite(i.Canonical)
			if from != i.Canonical {
				fmt.Fprintf(w, "  image %s (from %s)\n", i.Ref, from)
			} else {
				fmt.Fprintf(w, "  image %s\n", i.Ref)
			}
		}
		for _, f := range c.Files {
			if f.URL == "" {
				fmt.Fprintf(w, "  file %s\n", f.Path)
				continue
			}
			fmt.Fprintf(w, "  file %s (%s%s)\n", f.URL, filePin(o, f), fileSignature(f))
		}
		for _, r := range c.RPMs {
			fmt.Fprintf(w, "  rpm %s\n", r.Spec)
		}
		for _, ch := range c.Charts {
			fmt.Fprintf(w, "  chart %s\n", chartset.Label(ch))
		}
		for _, v := range c.Values {
			fmt.Fprintf(w, "  values %s%s\n", v.Path, templateMark(v))
		}
		for _, m := range c.Manifests {
			fmt.Fprintf(w, "  manifest %s%s\n", m.Path, templateMark(m))
		}
	}
	fmt.Fprintf(w, "total: %d images, %d files, %d rpms requested (before dependency closure), %d charts\n", len(imgs), len(files), len(s.RPMs()), len(s.Charts()))
	return nil
}

// templateMark notes a values file or manifest deploy renders with the
// site's data.
func templateMark(r manifest.PathRef) string {
	if r.Template {
		return " (template, rendered at deploy time)"
	}
	return ""
}

// filePin says what a URL file's download must hash to.
func filePin(o Options, f manifest.File) string {
	switch {
	case o.Locked:
		return "sha256 " + o.Lock.Files[f.URL].SHA256 + " from the lock"
	case f.SHA256 != "":
		return "sha256 " + f.SHA256
	}
	return "unpinned: hashed as downloaded; `bundle lock` pins it"
}

// fileSignature notes a URL file's required signature.
func fileSignature(f manifest.File) string {
	if f.Verify == nil {
		return ""
	}
	key := f.Verify.Key
	if f.Verify.Fingerprint != "" {
		key += " (key " + f.Verify.Fingerprint + ")"
	}
	return "; OpenPGP signature " + f.Verify.Signature + " by " + key
}
