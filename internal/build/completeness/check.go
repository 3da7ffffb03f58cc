// Package completeness runs the air-gap completeness gate (package gate)
// over a stack being built: it renders every chart the build fetched with
// its values (the component's values files, then the chart's own) for
// Kubernetes charts.KubeVersion, reads every plain manifest, and checks
// each container image they use against the images the bundle holds and
// those the manifest's allowMissingImages or --allow-missing-image accept.
// How the findings are logged, and where the bundled images come from, is
// package build's.
package completeness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/charts"
	"github.com/factory-appliance/appliance/internal/gate"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lint"
)

// Input is what the gate checks.
type Input struct {
	Stack *manifest.Stack
	// Charts loads the fetched charts from the cache.
	Charts *charts.Fetcher
	// Fetched are the stack's charts, one per chart entry; each is
	// rendered as its own release.
	Fetched []*charts.Fetched
	// Bundled are the images the bundle holds.
	Bundled *gate.Inventory
	// AllowMissing are the images --allow-missing-image accepts, besides
	// the manifest's allowMissingImages.
	AllowMissing []string
}

// Check renders and reads everything that names images, and returns the
// gate's report: its Err is a *gate.MissingError naming each container
// image used that the bundle lacks and no allowance accepts. An error is a
// chart or manifest that could not be read or rendered, or a malformed
// allowance.
func Check(ctx context.Context, in Input) (*gate.Report, error) {
	allowed, err := allowedInventory(in)
	if err != nil {
		return nil, err
	}
	uses, err := chartUses(ctx, in)
	if err != nil {
		return nil, err
	}
	more, err := manifestUses(in.Stack)
	if err != nil {
		return nil, err
	}
	return gate.Check(append(uses, more...), in.Bundled, allowed), nil
}

func allowedInventory(in Input) (*gate.Inventory, error) {
	inv := gate.NewInventory()
	for _, a := range in.Stack.AllowedMissingImages() {
		if err := inv.Add(a.Canonical); err != nil {
			return nil, fmt.Errorf("%s: allowMissingImages %s: %w", a.Pos, a.Ref, err)
		}
	}
	for _, a := range in.AllowMissing {
		if err := inv.Add(a); err != nil {
			return nil, fmt.Errorf("--allow-missing-image %s: %w", a, err)
		}
	}
	return inv, nil
}

// chartUses renders every chart entry (each release of a chart is rendered
// with its own values) and scans what it renders.
func chartUses(ctx context.Context, in Input) ([]gate.Use, error) {
	var uses []gate.Use
	var errs []error
	for _, got := range in.Fetched {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u, err := renderChart(in, got)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: chart %s: %w", got.Chart.Pos, got.Name, err))
			continue
		}
		uses = append(uses, u...)
	}
	return uses, errors.Join(errs...)
}

func renderChart(in Input, got *charts.Fetched) ([]gate.Use, error) {
	ch, err := in.Charts.Load(got.Digest)
	if err != nil {
		return nil, err
	}
	values, err := chartValues(in.Stack, got.Chart)
	if err != nil {
		return nil, err
	}
	rel := charts.Release{Name: got.Chart.Release, Namespace: got.Chart.Namespace}
	if rel.Name == "" {
		rel.Name = got.Name
	}
	if rel.Namespace == "" {
		rel.Namespace = got.Chart.Component
	}
	rendered, err := charts.Render(ch, rel, values)
	if err != nil {
		return nil, err
	}
	var uses []gate.Use
	for _, r := range rendered {
		base := gate.Origin{Component: got.Chart.Component, Source: "chart " + got.Name, File: r.Template}
		u, err := gate.Scan(strings.NewReader(r.Content), base, rel.Namespace)
		if err != nil {
			return nil, err
		}
		uses = append(uses, u...)
	}
	return uses, nil
}

// chartValues merges the component's values files, then the chart's own.
func chartValues(s *manifest.Stack, c manifest.Chart) (map[string]any, error) {
	var refs []manifest.PathRef
	if comp, ok := s.Component(c.Component); ok {
		refs = append(refs, comp.Values...)
	}
	refs = append(refs, c.Values...)
	var files []map[string]any
	for _, r := range refs {
		// A template is rendered with placeholder site data: the gate
		// sees the chart as a site would install it.
		data, err := lint.ReadConfig(s, r)
		if err != nil {
			return nil, fmt.Errorf("%s: values %s: %w", r.Pos, r.Path, err)
		}
		v, err := charts.ReadValues(r.Path, bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Pos, err)
		}
		files = append(files, v)
	}
	return charts.MergeValues(files...), nil
}

// manifestUses scans every plain manifest of every component.
func manifestUses(s *manifest.Stack) ([]gate.Use, error) {
	var uses []gate.Use
	for _, comp := range s.Spec.Components {
		for _, m := range comp.Manifests {
			data, err := lint.ReadConfig(s, m)
			if err != nil {
				return nil, fmt.Errorf("%s: manifest %s: %w", m.Pos, m.Path, err)
			}
			u, err := gate.Scan(bytes.NewReader(data), gate.Origin{Component: comp.Name, Source: "manifest " + m.Path}, "")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Pos, err)
			}
			uses = append(uses, u...)
		}
	}
	return uses, nil
}
