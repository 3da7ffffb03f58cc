package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// newCertsCmd is deploy certs: every certificate of the site and its
// expiry, and deploy certs renew.
func newCertsCmd() *cobra.Command {
	f := &runFlags{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "certs -i INVENTORY [--state-dir DIR] [--json]",
		Short: "Show when every certificate of the site expires; renew them with deploy certs renew",
		Long: fmt.Sprintf(`deploy certs reads, over SSH, every kubeadm certificate and kubeconfig on
each master, each node's kubelet client certificate and Harbor's certificate,
and the site CA in the state directory, and lists them soonest first. Only
certificates are read; no key leaves a host.

kubeadm's certificates live one year. /kubernetes/upkeep installed a timer
on each master that renews them when fewer than %d days are left
(journalctl -u %s); "deploy certs renew" renews them now. The list is
recorded in STATE/%s, and deploy status warns from it.

Exit status: 0, or 3 when a certificate has fewer than %d days left, or 1
when a host could not be read.`, certs.RenewDays, certs.Unit, state.CertsFile, certs.RenewDays),
		Example: `  deploy certs -i site.yaml --state-dir /var/lib/appliance
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.inventory == "" {
				return errors.New("give -i inventory.yaml")
			}
			ops, err := openOps(f, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer ops.Close()
			rec := ops.Certs(cmd.Context())
			if err := ops.WriteCertsRecord(rec); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rec); err != nil {
					return err
				}
			} else {
				writeCerts(cmd.OutOrStdout(), rec, time.Now())
			}
			switch {
			case len(rec.Errors) > 0:
				return fmt.Errorf("%d hosts could not be read (above); their certificates are not listed", len(rec.Errors))
			case len(certs.Soon(rec.Certs, time.Now())) > 0:
				return exitCode(3, fmt.Errorf("certificates have fewer than %d days left; renew them with deploy certs renew", certs.RenewDays))
			}
			return nil
		},
	}
	addSiteFlags(cmd.Flags(), f)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON (host, path, subject, notAfter, ca)")
	cmd.AddCommand(newCertsRenewCmd())
	return cmd
}

// newCertsRenewCmd is deploy certs renew.
func newCertsRenewCmd() *cobra.Command {
	return newOpCmd(opCmd{
		use:   "renew -i INVENTORY [--state-dir DIR] [--dry-run | --resume | --phase ID]",
		short: "Renew the kubeadm certificates on every master, one master at a time",
		long: `deploy certs renew renews the kubeadm certificates of every master, one master
at a time, so the others keep serving: kubeadm certs renew all, then each
static pod (etcd, apiserver, controller-manager, scheduler) restarted by
moving its manifest aside until its container is gone and back until a new
one runs. It then checks from this machine that the master's apiserver
(6443) and etcd (2379) serve the renewed certificates, and copies the
renewed admin kubeconfig into the state directory.

It is a plan of phases with its own journal in STATE/ops/certs-renew: after
a failure or a kill, run it again with --resume. A renewal that completed
runs afresh the next time. The kubelets' client certificates are renewed by
the kubelets themselves.`,
		example: `  deploy certs renew -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance --resume`,
		command: []string{"deploy", "certs", "renew"},
		what:    "the renewal",
		run: func(ctx context.Context, ops *deploy.Ops, _ []string, ro deploy.RunOptions) error {
			return ops.RenewCerts(ctx, ro)
		},
		dryRun: func(ops *deploy.Ops, w io.Writer, _ []string) error { return ops.DryRunRenewCerts(w) },
		done:   "certificates renewed on every master; deploy certs lists them",
	})
}

// opCmd is a day-two command that runs an operation of deploy.Ops.
type opCmd struct {
	use, short, long, example string
	// args are the positional arguments (default none).
	args cobra.PositionalArgs
	// command is the command line's start, for the resume command; the
	// positional arguments follow it.
	command []string
	// what the operation is, in the flags' help.
	what   string
	run    func(ctx context.Context, ops *deploy.Ops, args []string, ro deploy.RunOptions) error
	dryRun func(ops *deploy.Ops, w io.Writer, args []string) error
	// done is printed when the operation completed.
	done string
}

// newOpCmd makes the cobra command of a day-two operation: the site
// flags, the plan flags, the resume command printed when it stops.
func newOpCmd(c opCmd) *cobra.Command {
	f := &runFlags{}
	if c.args == nil {
		c.args = cobra.NoArgs
	}
	cmd := &cobra.Command{Use: c.use, Short: c.short, Long: c.long, Example: c.example, Args: c.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.inventory == "" {
				return errors.New("give -i inventory.yaml")
			}
			if f.force && f.phase == "" {
				return errors.New("--force re-runs one phase; give it with --phase ID")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			ops, err := openOps(f, out, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer ops.Close()
			if f.dryRun {
				return c.dryRun(ops, out, args)
			}
			words := append([]string{}, c.command...)
			for _, a := range args {
				words = append(words, shellWord(a))
			}
			resume := resumeCommand(cmd.Flags(), f, words...)
			err = c.run(ctx, ops, args, deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force, ResumeCommand: resume})
			return opDone(cmd, err, c.what, resume, c.done)
		},
	}
	fl := cmd.Flags()
	addSiteFlags(fl, f)
	addPlanFlags(fl, f, c.what)
	cmd.MarkFlagsMutuallyExclusive("resume", "restart")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "restart")
	return cmd
}

// newBackupCmd is deploy backup.
func newBackupCmd() *cobra.Command {
	return newOpCmd(opCmd{
		use:   "backup -i INVENTORY [--state-dir DIR] [--dry-run]",
		short: "Take a snapshot of etcd now and copy it to the state directory",
		long: fmt.Sprintf(`deploy backup saves a snapshot of the first master's etcd member (etcdctl
snapshot save, run in the etcd container), checks it (etcdutl snapshot
status), and copies it to STATE/%s/, checked against the master's sha256.
Restore it with deploy restore.

Besides, /kubernetes/upkeep installed a daily timer on each master that
keeps the newest %d snapshots in %s (journalctl -u %s). The
inventory's backup.etcd changes where and how many: to: nfs keeps them on
the export in storage.nfs (%s/MASTER on it), dir: names another local
directory, keep: how many (deploy writes them to %s).`, steps.BackupsDir, snapshot.Keep, snapshot.Dir, snapshot.Unit, snapshot.NFSDir, snapshot.EnvPath),
		example: `  deploy backup -i site.yaml --state-dir /var/lib/appliance
  deploy restore /var/lib/appliance/backups/etcd-master-1-20270101T020000Z.db -i site.yaml --state-dir /var/lib/appliance`,
		command: []string{"deploy", "backup"},
		what:    "the backup",
		run: func(ctx context.Context, ops *deploy.Ops, _ []string, ro deploy.RunOptions) error {
			return ops.Backup(ctx, ro)
		},
		dryRun: func(ops *deploy.Ops, w io.Writer, _ []string) error { return ops.DryRunBackup(w) },
		done:   "etcd snapshot taken and copied (see above); deploy restore SNAPSHOT brings it back",
	})
}

// newRestoreCmd is deploy restore.
func newRestoreCmd() *cobra.Command {
	return newOpCmd(opCmd{
		use:   "restore SNAPSHOT -i INVENTORY [--state-dir DIR] [--dry-run | --resume]",
		short: "Restore etcd on every master from a snapshot (deploy backup's)",
		long: `deploy restore brings a lost control plane back from an etcd snapshot, on every
master of the inventory, one step at a time on all of them:

  /restore/upload   the snapshot on each master, sha256-checked
  /restore/stop     etcd and the apiserver stopped (their manifests aside)
  /restore/data     each member's data restored with etcdutl snapshot restore,
                    as a member of a new cluster of every master; the old
                    data is kept in /var/lib/etcd.before-restore-TOKEN
  /restore/start    etcd and the apiserver started again
  /restore/healthy  every member healthy and the apiserver answering

Everything written to the cluster after the snapshot is lost. The restore is
a plan with its own journal (STATE/ops/restore): after a failure or a kill,
run it again with --resume and the same SNAPSHOT. See the README's runbook.`,
		example: `  deploy restore STATE/backups/etcd-master-1-20270101T020000Z.db -i site.yaml --state-dir STATE --dry-run
  deploy restore STATE/backups/etcd-master-1-20270101T020000Z.db -i site.yaml --state-dir STATE`,
		args:    cobra.ExactArgs(1),
		command: []string{"deploy", "restore"},
		what:    "the restore",
		run: func(ctx context.Context, ops *deploy.Ops, args []string, ro deploy.RunOptions) error {
			return ops.Restore(ctx, args[0], ro)
		},
		dryRun: func(ops *deploy.Ops, w io.Writer, args []string) error { return ops.DryRunRestore(w, args[0]) },
		done:   "etcd restored on every master; deploy status shows the cluster",
	})
}

// openOps opens the site of the flags for a day-two operation.
func openOps(f *runFlags, stdout, stderr io.Writer) (*deploy.Ops, error) {
	cfg, err := f.config(stdout, stderr)
	if err != nil {
		return nil, err
	}
	return deploy.OpenOps(cfg)
}

// writeCerts prints rec as a table, soonest expiry first, then the hosts
// that could not be read.
func writeCerts(w io.Writer, rec state.CertsRecord, now time.Time) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCERTIFICATE\tSUBJECT\tEXPIRES\tLEFT\t")
	for _, c := range rec.Certs {
		left := fmt.Sprintf("%dd", c.DaysLeft(now))
		switch {
		case c.DaysLeft(now) < 0:
			left = "EXPIRED"
		case c.DaysLeft(now) < certs.RenewDays:
			left += "  RENEW"
		}
		kind := ""
		if c.CA {
			kind = " (CA)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%s\t\n", termtext.Escape(c.Host), termtext.Escape(c.Path), termtext.Escape(c.Subject), kind,
			c.NotAfter.Format("2006-01-02 15:04 MST"), left)
	}
	tw.Flush()
	for _, e := range rec.Errors {
		fmt.Fprintln(w, "error:", termtext.Escape(e))
	}
}
