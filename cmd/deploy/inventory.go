package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/inventory"
)

// newInventoryCmd is deploy inventory: an example to start from, and a
// check of one's own.
func newInventoryCmd() *cobra.Command {
	var example bool
	var path string
	cmd := &cobra.Command{
		Use:   "inventory (--example | -i FILE)",
		Short: "Print a commented example inventory, or check one",
		Long: `inventory --example prints a commented inventory of a site (three masters
behind a VIP, two workers, one of them also the registry host), with every
optional field shown in a comment; it loads as it is. Edit it into your
site's: docs/inventory.md describes every field, which roles a host may
combine, and what a single master does without a VIP.

inventory -i FILE loads FILE as deploy does and lists every problem at once,
each with file:line and the fix, or prints a summary of the site; it
touches no host.`,
		Example: `  deploy inventory --example > inventory.yaml
  deploy inventory -i inventory.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			switch {
			case example:
				_, err := out.Write(inventory.Example)
				return err
			case path == "":
				return errors.New("give --example, or -i FILE to check an inventory")
			}
			inv, err := inventory.Load(path)
			if err != nil {
				return err
			}
			for _, w := range inv.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			summarize(out, inv)
			return nil
		},
	}
	cmd.Flags().BoolVar(&example, "example", false, "print a commented example inventory")
	cmd.Flags().StringVarP(&path, "inventory", "i", "", "an inventory to check")
	cmd.MarkFlagsMutuallyExclusive("example", "inventory")
	return cmd
}

// summarize prints what deploy will make of inv.
func summarize(w io.Writer, inv *inventory.Inventory) {
	fmt.Fprintf(w, "%s: site %s, %d host(s), deploy node %s\n", inv.Path, inv.Site, len(inv.Hosts), inv.DeployNode.Address)
	for _, h := range inv.Hosts {
		fmt.Fprintf(w, "  %-20s %-15s %v (ssh %s@%s:%d)\n", h.Name, h.Address, h.Roles, h.User, h.Address, h.Port)
	}
	masters := inv.HostsWithRole(inventory.RoleMaster)
	if inv.APIServer.VIP != "" {
		fmt.Fprintf(w, "apiserver: %s:%d, the VIP keepalived moves between the %d masters (/ha)\n", inv.APIServer.VIP, inv.APIServer.Port, len(masters))
	} else if len(masters) > 0 {
		fmt.Fprintf(w, "apiserver: %s:%d, the one master's own address\n", masters[0].Address, inv.APIServer.Port)
	}
	if reg, ok := inv.Registry(); ok {
		fmt.Fprintf(w, "registry: Harbor %s on %s (when the bundle carries its installer)\n", inv.Harbor.Hostname, reg.Name)
	} else {
		fmt.Fprintln(w, "registry: none; the hosts pull from the deploy node while deploy runs")
	}
}
