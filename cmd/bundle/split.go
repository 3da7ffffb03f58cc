package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/bundle/split"
	"github.com/factory-appliance/appliance/internal/progress"
)

func newSplitCmd() *cobra.Command {
	var (
		size string
		out  string
	)
	cmd := &cobra.Command{
		Use:   "split BUNDLE --size SIZE",
		Short: "Copy a bundle into parts for removable media",
		Long: `split copies a bundle into parts of at most SIZE bytes (BUNDLE.001,
BUNDLE.002, ..., or OUT.001, ... with -o), cut where a frame ends, so each
part is a valid zstd file and cat joins them into the bundle again. Every
bundle and deploy command opens the parts as one bundle, given the name or
its .001 part. The bundle itself is left as it is. To split while building,
use ` + "`bundle build --split`" + `.

SIZE takes KiB, MiB, GiB (or KB, MB, GB): 4000MiB keeps each part under FAT32's
4 GiB limit.`,
		Example: `  bundle split stack.bundle --size 4000MiB             # stack.bundle.001, .002, ...
  bundle split stack.bundle --size 4000MiB -o /media/usb/stack.bundle
  bundle verify /media/usb/stack.bundle.001 --key cosign.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if size == "" {
				return fmt.Errorf("give the largest part with --size, e.g. --size 4000MiB")
			}
			n, err := progress.ParseBytes(size)
			if err != nil {
				return fmt.Errorf("--size: %w", err)
			}
			if out == "" {
				out = args[0]
			}
			parts, err := split.Split(args[0], n, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d parts: %s ... %s\n", len(parts), parts[0], parts[len(parts)-1])
			return nil
		},
	}
	cmd.Flags().StringVar(&size, "size", "", "largest part, e.g. 4000MiB")
	cmd.Flags().StringVarP(&out, "output", "o", "", "name of the parts, without .001 (default: the bundle's name)")
	return cmd
}
