// Command deploy runs on the site's deploy node: it verifies a bundle,
// serves its content, prepares the hosts over SSH, loads the site registry
// and brings up the cluster, resuming after any failure.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/factory-appliance/appliance/internal/benchx"
	"github.com/factory-appliance/appliance/internal/termtext"
)

func main() {
	quietKlog(os.Stderr)
	stopProfile := benchx.ProfileFromEnv("deploy") // APPLIANCE_PPROF=DIR, for the benchmarks
	err := newRootCmd().Execute()
	stopProfile()
	if err != nil {
		reportError(os.Stderr, err)
		code := 1
		var ec *exitCodeError
		if errors.As(err, &ec) {
			code = ec.code
		}
		os.Exit(code)
	}
}

// exitCodeError makes deploy exit with code instead of 1 (deploy certs: 3
// for certificates close to expiry).
type exitCodeError struct {
	code int
	error
}

func (e *exitCodeError) Unwrap() error { return e.error }

// exitCode returns err, which deploy exits with code on.
func exitCode(code int, err error) error { return &exitCodeError{code, err} }

// quietKlog sends what client-go and the Helm SDK log through klog (a
// failed watch, an answer it could not read: text that may carry what a
// cluster answered) to w escaped, like every other line from outside.
func quietKlog(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		if err := fs.Set(k, v); err != nil {
			panic("klog flag " + k + ": " + err.Error()) // a klog without the flag: caught by TestKlogIsEscaped
		}
	}
	klog.SetOutput(termtext.NewWriter(w))
}

// reportError prints the error deploy stops with. It may carry a host's
// stderr or a cluster's event messages: whatever a terminal would act on
// is escaped (termtext).
func reportError(w io.Writer, err error) {
	fmt.Fprintln(w, "deploy:", termtext.Escape(err.Error()))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy a bundle onto an offline site",
		Example: `  deploy inventory --example > inventory.yaml
  deploy serve --bundle stack.bundle --key cosign.pub --addr 10.0.0.5:5443 --allow 10.0.0.0/24
  deploy push --bundle stack.bundle --key cosign.pub --to harbor.site.local
  deploy --bundle stack.bundle --key cosign.pub -i inventory.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Each subcommand lives in its own file as newXCmd; add one line here.
	root.AddCommand(newServeCmd(), newPushCmd(), newPlanCmd(), newStatusCmd(), newKubeconfigCmd(), newClientCertCmd(), newInventoryCmd(), newCertsCmd(), newBackupCmd(), newRestoreCmd(), newAddNodeCmd(), newRemoveNodeCmd(), newUpgradeCmd())
	addRunFlags(root)
	return root
}
