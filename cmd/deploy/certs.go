package main

import (
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
	"github.com/factory-appliance/appliance/internal/plan"
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
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "renew -i INVENTORY [--state-dir DIR] [--dry-run | --resume | --phase ID]",
		Short: "Renew the kubeadm certificates on every master, one master at a time",
		Long: `deploy certs renew renews the kubeadm certificates of every master, one master
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
		Example: `  deploy certs renew -i site.yaml --state-dir /var/lib/appliance --dry-run
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance
  deploy certs renew -i site.yaml --state-dir /var/lib/appliance --resume`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
				return ops.DryRunRenewCerts(out)
			}
			resume := resumeCommand(cmd.Flags(), f, "deploy", "certs", "renew")
			err = ops.RenewCerts(ctx, deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force, ResumeCommand: resume})
			var stopped *plan.RunError
			if errors.As(err, &stopped) {
				fmt.Fprintf(cmd.ErrOrStderr(), "\nthe renewal stopped; fix the cause, then: %s\n", resume)
			}
			if err == nil {
				fmt.Fprintf(out, "certificates renewed on every master; deploy certs -i %s --state-dir %s lists them\n", shellWord(f.inventory), shellWord(f.stateDir))
			}
			return err
		},
	}
	fl := cmd.Flags()
	addSiteFlags(fl, f)
	addPlanFlags(fl, f, "the renewal")
	cmd.MarkFlagsMutuallyExclusive("resume", "restart")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "restart")
	return cmd
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
