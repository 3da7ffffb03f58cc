package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/manifest"
)

func newStacksCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stacks",
		Short: "List the stacks built into the binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range manifest.BuiltinNames() {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}
