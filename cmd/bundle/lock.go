package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/build"
)

func newLockCmd() *cobra.Command {
	var (
		sf       stackFlags
		ff       fetchFlags
		lockFile string
	)
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Resolve every image, chart, RPM and URL file to its digest and write the lock file",
		Long: `lock asks each registry (or its mirror) for the digest every image of the
stack points at now, resolves charts and the RPM closure, and downloads every
URL file into the content cache to learn its sha256 and size (checking its
OpenPGP signature where the manifest requires one), and writes them to the
lock file. It downloads no image layer. Commit the lock; ` + "`bundle build --locked`" + `
then builds exactly it and fails if upstream drifted.`,
		Example: `  bundle lock -f stack.yaml                 # writes stack.lock.yaml
  bundle lock -f stack.yaml --lock-file ci/stack.lock.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.load()
			if err != nil {
				return err
			}
			o, err := ff.options(cmd, st)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			lock, err := build.Lock(ctx, o)
			if err != nil {
				return err
			}
			path := sf.lockPath(lockFile, st)
			if err := lock.Write(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d images, %d files)\n", path, len(lock.Images), len(lock.Files))
			return nil
		},
	}
	sf.register(cmd)
	ff.register(cmd)
	cmd.Flags().StringVar(&lockFile, "lock-file", "", "lock `FILE` to write (default: next to the manifest, NAME.lock.yaml)")
	return cmd
}
