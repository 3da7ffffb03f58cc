package charts

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrNoVersion is returned (wrapped) when no published version of a chart
// satisfies the manifest's constraint.
var ErrNoVersion = errors.New("no version satisfies the constraint")

// resolveVersion picks the newest of versions that satisfies constraint,
// with Helm's rules: a version written exactly as published is taken as is
// (pre-releases included); otherwise constraint is a semver constraint
// ("45.x", "~1.2", ">=1.0 <2", "^2.1") and pre-releases match only when the
// constraint names one. Versions that are not semver are ignored.
func resolveVersion(constraint string, versions []string) (string, error) {
	if slices.Contains(versions, constraint) {
		return constraint, nil
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("version %q is neither a version nor a constraint: %w", constraint, err)
	}
	var best *semver.Version
	bestRaw := ""
	for _, raw := range versions {
		v, err := semver.NewVersion(raw)
		if err != nil || !c.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestRaw = v, raw
		}
	}
	if best == nil {
		return "", fmt.Errorf("%w %q; published: %s", ErrNoVersion, constraint, newest(versions, 8))
	}
	return bestRaw, nil
}

// newest lists up to n of the newest semver versions, for error messages.
func newest(versions []string, n int) string {
	var vs []*semver.Version
	for _, raw := range versions {
		if v, err := semver.NewVersion(raw); err == nil {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return "none"
	}
	slices.SortFunc(vs, func(a, b *semver.Version) int { return b.Compare(a) })
	var out []string
	for _, v := range vs[:min(n, len(vs))] {
		out = append(out, v.Original())
	}
	if len(vs) > n {
		out = append(out, "…")
	}
	return strings.Join(out, ", ")
}

// isExactVersion reports whether s names one version rather than a range.
func isExactVersion(s string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	return err == nil
}
