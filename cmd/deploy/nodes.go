package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/plan"
)

// newAddNodeCmd is deploy add-node NAME: it needs the bundle, which the
// node's packages and images come from.
func newAddNodeCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "add-node NAME --bundle FILE -i INVENTORY [--state-dir DIR] [--dry-run | --resume]",
		Short: "Join a master or worker, added to the inventory, to the running cluster",
		Long: `deploy add-node prepares host NAME, which the inventory lists with its roles
(master or worker), as a deployment would (preflight, yum repos, packages,
system settings, containerd) and joins it to the running cluster at the
version the cluster runs, with a fresh token (and for a master a fresh
certificate key, the control-plane certificates uploaded again, so a join
after the first day's certificates expired from kubeadm-certs works). For
a master, haproxy and keepalived on every master take it in. Every host's
/etc/hosts names it, it pulls from Harbor when the site has it, and the
cluster is waited for, every node Ready and one etcd member per master.

--bundle must carry the Kubernetes version the cluster runs: a bundle of
another version is refused (upgrade the cluster first). The site server runs
while it works. Its journal is STATE/ops/add-node-NAME; --resume continues.`,
		Example: `  deploy add-node worker-2 --bundle stack.bundle -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy add-node worker-2 --bundle stack.bundle -i site.yaml --state-dir /var/lib/appliance`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			d, err := openDeployment(f, out, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer d.Close()
			if f.dryRun {
				return d.DryRunAddNode(out, args[0])
			}
			resume := resumeCommand(cmd.Flags(), f, "deploy", "add-node", shellWord(args[0]), "--bundle", shellWord(f.bundle))
			err = d.AddNode(ctx, args[0], deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force, ResumeCommand: resume})
			return opDone(cmd, err, "adding "+args[0], resume, args[0]+" joined the cluster; deploy status shows it")
		},
	}
	fl := cmd.Flags()
	addBundleFlags(cmd, f, "the bundle the cluster runs (its Kubernetes version)", false)
	addSiteFlags(fl, f)
	addPlanFlags(fl, f, "adding the node")
	fl.StringArrayVar(&f.allowIncompatible, "allow-incompatible", nil, "join although the host breaks `ROW` of the compatibility matrix; unsupported, and warned about (repeatable)")
	cmd.MarkFlagsMutuallyExclusive("resume", "restart")
	return cmd
}

// newRemoveNodeCmd is deploy remove-node NAME.
func newRemoveNodeCmd() *cobra.Command {
	var rm deploy.RemoveOptions
	var drain bool
	c := opCmd{
		use:   "remove-node NAME -i INVENTORY [--state-dir DIR] [--dry-run | --resume] [--drain=false] [--drain-timeout 5m]",
		short: "Take a node, removed from the inventory, out of the cluster",
		long: `deploy remove-node takes node NAME, which the inventory no longer lists, out
of the cluster: it checks that NAME is not the last master and that etcd
keeps a quorum of healthy members without it, drains it (PodDisruptionBudgets
respected, within --drain-timeout; --drain=false skips it), removes a
master's etcd member, deletes the Node, takes it out of haproxy and
keepalived on the other masters and of every host's /etc/hosts, and resets
the host itself (kubeadm reset; --no-reset for a host that is gone).

Its address and role are read from the cluster (also for --dry-run, which
only reads). Its journal is STATE/ops/remove-node-NAME; --resume continues.`,
		example: `  deploy remove-node worker-2 -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy remove-node master-3 -i site.yaml --state-dir /var/lib/appliance --drain-timeout 10m`,
		args:    cobra.ExactArgs(1),
		command: []string{"deploy", "remove-node"},
		what:    "the removal",
		run: func(ctx context.Context, ops *deploy.Ops, args []string, ro deploy.RunOptions) error {
			rm.NoDrain = !drain
			return ops.RemoveNode(ctx, args[0], rm, ro)
		},
		dryRun: func(ops *deploy.Ops, w io.Writer, args []string) error {
			rm.NoDrain = !drain
			return ops.DryRunRemoveNode(context.Background(), w, args[0], rm)
		},
		done: "the node is out of the cluster; deploy status shows the nodes",
	}
	cmd := newOpCmd(c)
	fl := cmd.Flags()
	fl.BoolVar(&drain, "drain", true, "drain the node before deleting it")
	fl.DurationVar(&rm.DrainTimeout, "drain-timeout", deploy.DefaultDrainTimeout, "bound on the drain")
	fl.StringVar(&rm.Address, "address", "", "the node's address, to reset it (default: its InternalIP in the cluster)")
	fl.BoolVar(&rm.NoReset, "no-reset", false, "leave the host itself alone (it is gone or unreachable)")
	return cmd
}

// opDone reports how an operation ended: the resume command when it
// stopped, done when it completed.
func opDone(cmd *cobra.Command, err error, what, resume, done string) error {
	var stopped *plan.RunError
	if errors.As(err, &stopped) {
		fmt.Fprintf(cmd.ErrOrStderr(), "\n%s stopped; fix the cause, then: %s\n", what, resume)
	}
	if err == nil {
		fmt.Fprintln(cmd.OutOrStdout(), done)
	}
	return err
}
