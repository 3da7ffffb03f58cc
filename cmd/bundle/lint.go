package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/build"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lint"
)

func newLintCmd() *cobra.Command {
	var sf stackFlags
	var incompatible []string
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Check a stack manifest without fetching anything",
		Long: `lint parses the manifest and checks everything that needs no network:
unknown fields, bad references, duplicates, missing local files, image lists,
templates, and local charts as the build packages them (no links, a valid
Chart.yaml, dependencies in charts/). Every problem is printed at once as
file:line: message; fix (the first 50, then how many more).

Then it checks the stack against the compatibility matrix: its Kubernetes
(the kube-apiserver image's tag) must be one deploy supports (v1.26–v1.34),
and its KubeSphere, Calico and containerd versions must support that
Kubernetes. A combination outside the matrix fails with the row it broke,
its source and the fix; --allow-incompatible ROW accepts it with a warning.`,
		Example: `  bundle lint -f stack.yaml
  bundle lint --stack kubesphere
  bundle lint -f stack.yaml --allow-incompatible calico-kubernetes   # unsupported, warned`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.load()
			if err != nil {
				return err
			}
			if err := build.Check(st); err != nil {
				return err
			}
			warnTemplates(cmd.ErrOrStderr(), st)
			if err := build.CheckCompat(st, incompatible, cmd.ErrOrStderr()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d components, %d images, %d files)\n", st.File, len(st.Spec.Components), len(st.Images()), len(st.Files()))
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().StringArrayVar(&incompatible, "allow-incompatible", nil, "accept a stack that breaks `ROW` of the compatibility matrix (such as kubesphere-kubernetes), with a warning (repeatable)")
	return cmd
}

// warnTemplates prints a warning for each values file or manifest that
// holds {{ }} without being marked template: true (deploy would pass it
// on unrendered).
func warnTemplates(w io.Writer, st *manifest.Stack) {
	for _, e := range lint.TemplateWarnings(st) {
		fmt.Fprintln(w, "warning:", e)
	}
}
