package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/deploy"
)

// newUpgradeCmd is deploy upgrade --bundle NEW: like add-node, it opens
// the new bundle and serves it while it works.
func newUpgradeCmd() *cobra.Command {
	f := &runFlags{}
	var uo deploy.UpgradeOptions
	var drain bool
	cmd := &cobra.Command{
		Use:   "upgrade --bundle NEW [--base OLD] -i INVENTORY [--state-dir DIR] [--dry-run | --resume] [--max-unavailable N] [--drain=false]",
		Short: "Move a running site to a newer bundle: Kubernetes node by node, packages, Harbor, the stack",
		Long: `deploy upgrade moves a deployed site from the bundle it runs to bundle NEW
(a delta bundle with --base, the full bundle it was built against). It
verifies NEW, serves it from the site server, and then:

  - checks the versions first: Kubernetes moves one minor at a time and
    never down; a skip is refused naming the version to upgrade to first,
    and nothing is touched;
  - points every host's yum at NEW's repos, and loads Harbor (when the
    site has it) with NEW's images, sending only what Harbor lacks, before
    any node changes;
  - updates each role's packages that NEW's RPM closure changed (not
    kubeadm, kubelet and kubectl, which each node gets at its turn);
  - upgrades the masters one at a time, in the order of kubeadm's upgrade
    guide: kubeadm from NEW, "kubeadm upgrade plan" and "apply" on the
    first master, "kubeadm upgrade node" on the others; then the node is
    drained (PodDisruptionBudgets respected, within --drain-timeout;
    --drain=false skips it), gets kubelet and kubectl from NEW, kubelet
    restarts, and once Ready at the new version it is uncordoned; then the
    workers, --max-unavailable at a time;
  - waits for every node Ready at the new version, then upgrades the
    stack's releases whose chart or values changed.

A node that fails stops the rollout there: the nodes after it still run the
version before, and the cluster keeps serving; the error names the node and
the step, and --resume continues. Its journal is STATE/ops/upgrade;
deploy status shows it. --dry-run prints the whole plan first: the versions,
the nodes in order, every command.`,
		Example: `  deploy upgrade --bundle platform-1.1.bundle -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy upgrade --bundle platform-1.1.bundle -i site.yaml --state-dir /var/lib/appliance
  deploy upgrade --bundle delta-1.1.bundle --base platform-1.0.bundle -i site.yaml --max-unavailable 2
  deploy upgrade --resume --bundle platform-1.1.bundle -i site.yaml --state-dir /var/lib/appliance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			uo.NoDrain = !drain
			d, err := openDeployment(f, out, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer d.Close()
			if f.dryRun {
				return d.DryRunUpgrade(ctx, out, uo)
			}
			resume := resumeCommand(cmd.Flags(), f, "deploy", "upgrade", "--bundle", shellWord(f.bundle))
			err = d.Upgrade(ctx, uo, deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force, ResumeCommand: resume})
			return opDone(cmd, err, "the upgrade", resume, "the site runs the new bundle; deploy status shows every node's version")
		},
	}
	fl := cmd.Flags()
	addBundleFlags(cmd, f, "the bundle to upgrade to", true)
	addSiteFlags(fl, f)
	addPlanFlags(fl, f, "the upgrade")
	fl.IntVar(&uo.MaxUnavailable, "max-unavailable", 1, "workers upgraded at once (masters: always one)")
	fl.BoolVar(&drain, "drain", true, "drain each node before upgrading it")
	fl.DurationVar(&uo.DrainTimeout, "drain-timeout", deploy.DefaultDrainTimeout, "bound on each node's drain")
	cmd.MarkFlagsMutuallyExclusive("resume", "restart")
	return cmd
}
