package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/siteserver"
	"github.com/factory-appliance/appliance/internal/sshx"
	"github.com/factory-appliance/appliance/internal/stack"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// runFlags are the flags of deploy itself (the root command).
type runFlags struct {
	bundle             string
	base               string
	inventory          string
	key                string
	insecureSkipVerify bool
	stateDir           string
	resume             bool
	restart            bool
	phase              string
	force              bool
	dryRun             bool
	acceptNewHostKeys  bool
	parallel           int
	seedPort           int
	seedAllow          []string
	sudoPasswordFile   string
	testSiteHosts      bool
	sshTimeout         time.Duration
	sshAttempts        int
	sshKeepalive       time.Duration
	commandTimeout     time.Duration
	stackTimeout       time.Duration
}

// addRunFlags makes the root command run a deployment: deploy --bundle F -i INV.
func addRunFlags(root *cobra.Command) {
	f := &runFlags{}
	root.Long = `deploy verifies a bundle, serves it from this machine (the deploy node) and
prepares the site's hosts over SSH, as one plan of phases:

  /verify      every entry's digest (the signature is checked before anything)
  /seed        the site server answers (it runs while deploy runs, and serves
               only the inventory's hosts, the deploy node and loopback;
               --seed-allow adds addresses, others get 403)
  /preflight   OS, kernel, CPU, memory, disk, ports, clock, tools, site server
  /unique      no two hosts are clones
  /repos       site CA in the trust store, yum repos on the site server
  /packages    each role's packages, from the bundle only
  /system      host names, /etc/hosts, modules, sysctls, swap, SELinux, chrony
  /containerd  config.toml and a mirror for every source registry
  /ha          keepalived and haproxy on the masters (several masters)

Progress goes to the terminal, one log per host to STATE/logs/. The journal
in --state-dir records every phase; after any failure, fix the cause and run
again with --resume. See the tree with "deploy plan".`
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.bundle == "" && f.inventory == "" {
			return cmd.Help()
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDeployment(ctx, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	fl := root.Flags()
	fl.StringVar(&f.bundle, "bundle", "", "the bundle file to deploy")
	fl.StringVar(&f.base, "base", "", "the full bundle a delta --bundle was built against")
	fl.StringVarP(&f.inventory, "inventory", "i", "", "the site inventory (appliance/v1 Inventory)")
	fl.StringVar(&f.key, "key", "", "cosign public key the bundle must be signed with (default: the inventory's bundleKey)")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "deploy a bundle without checking its signature (digests are still checked)")
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "directory of the journal, host logs and site CA")
	fl.BoolVar(&f.resume, "resume", false, "continue the deployment in --state-dir, skipping completed phases")
	fl.BoolVar(&f.restart, "restart", false, "start over although --state-dir holds a deployment (its journal is kept aside)")
	fl.StringVar(&f.phase, "phase", "", "run only this phase, such as /packages or /system/master-1")
	fl.BoolVar(&f.force, "force", false, "with --phase: run it even if it completed")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what each host would run; touch nothing")
	fl.BoolVar(&f.acceptNewHostKeys, "accept-new-host-keys", false, "record unknown SSH host keys in known_hosts on first contact (changed keys are still refused)")
	fl.IntVar(&f.parallel, "parallel", 0, "hosts worked on at once per phase (default 5)")
	fl.IntVar(&f.seedPort, "seed-port", deploy.DefaultSeedPort, "port of the site server on the deploy node's inventory address")
	fl.StringSliceVar(&f.seedAllow, "seed-allow", nil, "more client addresses or CIDR prefixes the site server admits (repeatable, comma-separated); it admits only the inventory's hosts, the deploy node and loopback")
	fl.DurationVar(&f.sshTimeout, "ssh-connect-timeout", 15*time.Second, "bound on one SSH connection attempt (TCP connect and handshake)")
	fl.IntVar(&f.sshAttempts, "ssh-connect-attempts", 5, "SSH connection attempts, with backoff, before a host counts as unreachable")
	fl.DurationVar(&f.sshKeepalive, "ssh-keepalive", 15*time.Second, "interval of SSH keepalives; after 3 unanswered the connection counts as lost")
	fl.DurationVar(&f.commandTimeout, "command-timeout", 30*time.Minute, "bound on one command on a host (a hung command fails its phase, which is retried)")
	fl.DurationVar(&f.stackTimeout, "stack-timeout", stack.DefaultTimeout, "how long each /stack step waits for its workloads to roll out")
	fl.StringVar(&f.sudoPasswordFile, "sudo-password-file", "", "file whose first line is the sudo password of non-root SSH users (chmod 600; masked in every log)")
	fl.BoolVar(&f.testSiteHosts, "test-site-hosts", false, "accept the project's test-site hosts (Debian standing in for EL); never for a real site")
	_ = fl.MarkHidden("test-site-hosts")
	root.MarkFlagsMutuallyExclusive("resume", "restart")
	root.MarkFlagsMutuallyExclusive("key", "insecure-skip-verify")
	root.MarkFlagsMutuallyExclusive("dry-run", "restart")
}

func runDeployment(ctx context.Context, f *runFlags, stdout, stderr io.Writer) error {
	if err := f.check(); err != nil {
		return err
	}
	cfg, err := f.config(stdout, stderr)
	if err != nil {
		return err
	}
	d, err := deploy.Open(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if f.dryRun {
		return d.DryRun(stdout)
	}
	err = d.Run(ctx, deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force})
	if err == nil {
		fmt.Fprintf(stdout, "deployment complete; logs in %s/logs\n", f.stateDir)
		return nil
	}
	fmt.Fprintf(stderr, "\nthe deployment stopped; fix the cause, then: deploy --bundle %s -i %s --state-dir %s --resume\n", f.bundle, f.inventory, f.stateDir)
	return err
}

func (f *runFlags) check() error {
	switch {
	case f.bundle == "":
		return errors.New("give --bundle FILE")
	case f.inventory == "":
		return errors.New("give -i inventory.yaml")
	case f.force && f.phase == "":
		return errors.New("--force re-runs one phase; give it with --phase ID")
	}
	return nil
}

func (f *runFlags) config(stdout, stderr io.Writer) (deploy.Config, error) {
	seedAllow, err := siteserver.ParseAllow(f.seedAllow)
	if err != nil {
		return deploy.Config{}, fmt.Errorf("--seed-allow: %w", err)
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return deploy.Config{}, err
	}
	for _, w := range inv.Warnings {
		fmt.Fprintln(stderr, "warning:", termtext.Escape(w.String()))
	}
	red := sshx.NewRedactor()
	var sudo string
	if f.sudoPasswordFile != "" {
		if sudo, err = deploy.ReadSecretFile(f.sudoPasswordFile); err != nil {
			return deploy.Config{}, fmt.Errorf("--sudo-password-file: %w", err)
		}
		red.Add(sudo)
	}
	if f.testSiteHosts {
		fmt.Fprintln(stderr, "WARNING: --test-site-hosts: hosts marked as the project's test-site containers are accepted in place of EL hosts")
	}
	return deploy.Config{
		BundlePath: f.bundle, BasePath: f.base, KeyPath: f.key, InsecureSkipVerify: f.insecureSkipVerify,
		Inventory: inv, StateDir: f.stateDir, SeedPort: f.seedPort, SeedAllow: seedAllow,
		AcceptNewHostKeys: f.acceptNewHostKeys, SudoPassword: sudo,
		Parallelism: f.parallel, TestSiteHosts: f.testSiteHosts,
		DialTimeout: f.sshTimeout, DialAttempts: f.sshAttempts, KeepaliveInterval: f.sshKeepalive,
		CommandTimeout: f.commandTimeout, StackTimeout: f.stackTimeout,
		Redactor: red, Out: stdout, Warn: stderr,
	}, nil
}

// newPlanCmd is deploy plan: the phase tree and each phase's state.
func newPlanCmd() *cobra.Command {
	var stateDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [--state-dir DIR] [--json]",
		Short: "Show the deployment's phases and the state of each",
		Long: `plan shows the phase tree of the deployment recorded in --state-dir, with
each phase's state (unstarted, in_progress, completed, failed), when it last
changed, and the error of each failed phase. It reads the journal without
locking it, so it can watch a deploy that is running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deploy.ShowPlan(cmd.OutOrStdout(), stateDir, asJSON)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the deployment's journal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// newKubeconfigCmd is deploy kubeconfig: where the cluster-admin kubeconfig
// of the deployment in --state-dir is.
func newKubeconfigCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "kubeconfig [--state-dir DIR]",
		Short: "Print the path of the cluster's admin kubeconfig",
		Long: `kubeconfig prints the path of the cluster-admin kubeconfig that the
/kubernetes phases copied from the first master into --state-dir (mode 0600).
It holds the cluster-admin's private key: keep it on the deploy node.`,
		Example: `  export KUBECONFIG=$(deploy kubeconfig --state-dir /var/lib/appliance)
  kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := deploy.Kubeconfig(stateDir)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the deployment")
	return cmd
}
