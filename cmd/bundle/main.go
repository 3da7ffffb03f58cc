// Command bundle packs a stack's images, RPMs, charts and files into one
// signed, seekable bundle file. It runs in CI.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/benchx"
)

func main() {
	stopProfile := benchx.ProfileFromEnv("bundle") // APPLIANCE_PPROF=DIR, for the benchmarks
	err := newRootCmd().Execute()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "bundle",
		Short: "Pack a stack into one signed, seekable bundle file",
		Long: `bundle turns a stack manifest into one compressed, signed bundle file that
carries every image, RPM, chart and file the site needs, and inspects,
verifies and reads bundles without unpacking them.`,
		Example: `  bundle lint -f stack.yaml
  bundle build -f stack.yaml -o stack.bundle --sign-key cosign.key
  bundle inspect stack.bundle
  bundle verify stack.bundle --key cosign.pub`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each subcommand lives in its own file as newXCmd; add one line here.
	root.AddCommand(
		newBuildCmd(),
		newLockCmd(),
		newLintCmd(),
		newStacksCmd(),
		newInspectCmd(),
		newVerifyCmd(),
		newCatCmd(),
		newExtractCmd(),
		newSplitCmd(),
		newKeysCmd(),
	)
	return root
}
