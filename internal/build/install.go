package build

import (
	"context"

	"github.com/factory-appliance/appliance/internal/build/installplan"
	"github.com/factory-appliance/appliance/internal/bundle"
)

// planInstall checks the release names and stores nothing yet: it lists
// the values files and manifests to write and the plan to record
// (installplan.New). It runs after the charts are fetched, since a chart's
// name, the default release name, may come from its Chart.yaml.
func (b *builder) planInstall(context.Context) error {
	p, err := installplan.New(b.o.Stack, b.charts.Fetched)
	if err != nil {
		return err
	}
	b.install = p
	return nil
}

// configEntries are the values files and manifests.
func (b *builder) configEntries() []entry {
	if b.install == nil {
		return nil
	}
	es := make([]entry, 0, len(b.install.Configs))
	for _, c := range b.install.Configs {
		es = append(es, entry{
			path: c.Path, kind: bundle.KindConfig, name: c.Name, component: c.Component, size: c.Size,
			annotations: c.Annotations, open: c.Open,
		})
	}
	return es
}
