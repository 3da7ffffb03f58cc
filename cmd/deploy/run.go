package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/deploy/status"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/siteserver/access"
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
	allowIncompatible  []string
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
deploys it onto the site's hosts over SSH, as one plan of phases:

` + deploy.PhaseGuideText("  ") + `
Progress goes to the terminal, one log per host to STATE/logs/. The journal
in --state-dir records every phase; after any failure, fix the cause and run
again with the flags it was given and --resume (deploy prints that command).
See the tree with "deploy plan", where the site stands with "deploy status".
Start an inventory with "deploy inventory --example".`
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.bundle == "" && f.inventory == "" {
			return cmd.Help()
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDeployment(ctx, f, resumeCommand(cmd.Flags(), f, "deploy", "--bundle", shellWord(f.bundle)), cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	fl := root.Flags()
	addBundleFlags(root, f, "the bundle file to deploy", true)
	addPlanFlags(fl, f, "the deployment")
	addSiteFlags(fl, f)
	fl.StringSliceVar(&f.seedAllow, "seed-allow", nil, "more client addresses or CIDR prefixes the site server admits (repeatable, comma-separated); it admits only the inventory's hosts, the deploy node and loopback")
	fl.DurationVar(&f.stackTimeout, "stack-timeout", stack.DefaultTimeout, "how long each /stack step waits for its workloads to roll out")
	fl.StringArrayVar(&f.allowIncompatible, "allow-incompatible", nil, "deploy although the hosts or the bundle break `ROW` of the compatibility matrix (such as kernel-kubeadm); unsupported, and warned about (repeatable)")
	root.MarkFlagsMutuallyExclusive("resume", "restart")
	root.MarkFlagsMutuallyExclusive("dry-run", "restart")
}

// addBundleFlags are the flags of a command that serves a bundle to the
// site (deploy, add-node, upgrade): the bundle (bundle, its help), with
// base its delta's base, its key or the insecure choice, the site server's
// port.
func addBundleFlags(cmd *cobra.Command, f *runFlags, bundle string, base bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.bundle, "bundle", "", bundle)
	if base {
		fl.StringVar(&f.base, "base", "", "the full bundle a delta --bundle was built against")
	}
	fl.StringVar(&f.key, "key", "", "cosign public key the bundle must be signed with (default: the inventory's bundleKey)")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "use a bundle without checking its signature (digests are still checked)")
	fl.IntVar(&f.seedPort, "seed-port", deploy.DefaultSeedPort, "port of the site server on the deploy node's inventory address")
	cmd.MarkFlagsMutuallyExclusive("key", "insecure-skip-verify")
}

// addPlanFlags are the flags of a command that runs a plan of phases with
// a journal (what, for the help): deploy and its day-two operations.
func addPlanFlags(fl *pflag.FlagSet, f *runFlags, what string) {
	fl.BoolVar(&f.resume, "resume", false, "continue "+what+" in --state-dir, skipping completed phases")
	fl.BoolVar(&f.restart, "restart", false, "start "+what+" over although --state-dir holds an unfinished one (its journal is kept aside)")
	fl.StringVar(&f.phase, "phase", "", "run only this phase (and what it contains); deploy plan lists the IDs")
	fl.BoolVar(&f.force, "force", false, "with --phase: run it even if it completed")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what each host would run; touch nothing")
}

// addSiteFlags are the flags of a command that reaches the site's hosts:
// the inventory, the state directory and SSH.
func addSiteFlags(fl *pflag.FlagSet, f *runFlags) {
	fl.StringVarP(&f.inventory, "inventory", "i", "", "the site inventory (appliance/v1 Inventory)")
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "directory of the journal, host logs and site CA")
	fl.BoolVar(&f.acceptNewHostKeys, "accept-new-host-keys", false, "record unknown SSH host keys in known_hosts on first contact (changed keys are still refused)")
	fl.IntVar(&f.parallel, "parallel", 0, "hosts worked on at once per phase (default 5)")
	fl.DurationVar(&f.sshTimeout, "ssh-connect-timeout", 15*time.Second, "bound on one SSH connection attempt (TCP connect and handshake)")
	fl.IntVar(&f.sshAttempts, "ssh-connect-attempts", 5, "SSH connection attempts, with backoff, before a host counts as unreachable: timeouts and resets are retried; no route to the host fails at once, and a refused port after 10s")
	fl.DurationVar(&f.sshKeepalive, "ssh-keepalive", 15*time.Second, "interval of SSH keepalives; after 3 unanswered the connection counts as lost")
	fl.DurationVar(&f.commandTimeout, "command-timeout", 30*time.Minute, "bound on one command on a host (a hung command fails its phase, which is retried)")
	fl.StringVar(&f.sudoPasswordFile, "sudo-password-file", "", "file whose first line is the sudo password of non-root SSH users (chmod 600; masked in every log)")
	fl.BoolVar(&f.testSiteHosts, "test-site-hosts", false, "accept the project's test-site hosts (Debian standing in for EL); never for a real site")
	_ = fl.MarkHidden("test-site-hosts")
}

// openDeployment checks the flags and opens the deployment they name:
// the bundle verified, nothing touched.
func openDeployment(f *runFlags, stdout, stderr io.Writer) (*deploy.Deployment, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	cfg, err := f.config(stdout, stderr)
	if err != nil {
		return nil, err
	}
	return deploy.Open(cfg)
}

func runDeployment(ctx context.Context, f *runFlags, resume string, stdout, stderr io.Writer) error {
	d, err := openDeployment(f, stdout, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if f.dryRun {
		return d.DryRun(stdout)
	}
	err = d.Run(ctx, deploy.RunOptions{Resume: f.resume, Restart: f.restart, Phase: f.phase, Force: f.force, ResumeCommand: resume})
	if err == nil {
		fmt.Fprintf(stdout, "deployment complete; logs in %s/logs\n", f.stateDir)
		return nil
	}
	// Phases ran and some failed, or were cut off: --resume goes on. Other
	// errors (the state directory holds another deployment, or a complete
	// one, the site server cannot start) say what to do themselves.
	var stopped *plan.RunError
	if errors.As(err, &stopped) {
		fmt.Fprintf(stderr, "\nthe deployment stopped; fix the cause, then: %s\n", resume)
	}
	return err
}

// noResume are the flags a resume command leaves out: it resumes instead
// of starting over, and a forced phase that failed is no longer completed.
var noResume = map[string]bool{"resume": true, "restart": true, "force": true, "dry-run": true, "help": true}

// resumeCommand is the command that resumes this run: command (such as
// deploy --bundle F) with every flag the user gave (-i and --state-dir
// always), except noResume's, then --resume. Values are quoted for a POSIX
// shell where they need it.
func resumeCommand(fl *pflag.FlagSet, f *runFlags, command ...string) string {
	words := append(command, "-i", shellWord(f.inventory), "--state-dir", shellWord(f.stateDir))
	fl.Visit(func(x *pflag.Flag) {
		switch {
		case noResume[x.Name] || x.Name == "bundle" || x.Name == "inventory" || x.Name == "state-dir":
		case x.Value.Type() == "bool":
			if x.Value.String() == "true" {
				words = append(words, "--"+x.Name)
			} else {
				words = append(words, "--"+x.Name+"=false")
			}
		default:
			vals := []string{x.Value.String()}
			if sv, ok := x.Value.(pflag.SliceValue); ok {
				vals = sv.GetSlice()
			}
			for _, v := range vals {
				words = append(words, "--"+x.Name, shellWord(v))
			}
		}
	})
	return strings.Join(append(words, "--resume"), " ")
}

// shellWord quotes s for a POSIX shell unless it is made only of
// characters no shell treats specially.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
	seedAllow, err := access.ParseAllow(f.seedAllow)
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
		if sudo, err = state.ReadSecretFile(f.sudoPasswordFile); err != nil {
			return deploy.Config{}, fmt.Errorf("--sudo-password-file: %w", err)
		}
		red.Add(sudo)
	}
	for _, row := range f.allowIncompatible {
		fmt.Fprintf(stderr, "WARNING: --allow-incompatible %s: hosts or a bundle outside that row of the compatibility matrix are deployed anyway; this is unsupported\n", row)
	}
	if f.testSiteHosts {
		fmt.Fprintln(stderr, "WARNING: --test-site-hosts: hosts marked as the project's test-site containers are accepted in place of EL hosts")
	}
	return deploy.Config{
		BundlePath: f.bundle, BasePath: f.base, KeyPath: f.key, InsecureSkipVerify: f.insecureSkipVerify,
		Inventory: inv, StateDir: f.stateDir, SeedPort: f.seedPort, SeedAllow: seedAllow,
		AcceptNewHostKeys: f.acceptNewHostKeys, SudoPassword: sudo,
		Parallelism: f.parallel, TestSiteHosts: f.testSiteHosts, AllowIncompatible: f.allowIncompatible,
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
			return status.ShowPlan(cmd.OutOrStdout(), stateDir, asJSON)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the deployment's journal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// newKubeconfigCmd is deploy kubeconfig: where the cluster-admin kubeconfig
// of the deployment in --state-dir is, and where a kubectl is.
func newKubeconfigCmd() *cobra.Command {
	var stateDir string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "kubeconfig [--state-dir DIR] [--quiet]",
		Short: "Print the path of the cluster's admin kubeconfig, and where a kubectl is",
		Long: `kubeconfig prints the path of the cluster-admin kubeconfig that the
/kubernetes phases copied from the first master into --state-dir (mode 0600).
It holds the cluster-admin's private key: keep it on the deploy node.

The path goes to standard output, alone, for $(deploy kubeconfig). On
standard error (unless --quiet) it says where to get a kubectl: this
machine's, if it has one; else the bundle's kubectl RPM (bundle inspect
lists it, bundle cat writes it out); and the masters, where /packages
installed the bundle's kubectl and kubeadm left /etc/kubernetes/admin.conf:
"kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes" as root there.`,
		Example: `  export KUBECONFIG=$(deploy kubeconfig --state-dir /var/lib/appliance)
  kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := state.Dir(stateDir).Kubeconfig()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			if !quiet {
				fmt.Fprint(cmd.ErrOrStderr(), deploy.KubectlHint(stateDir, p))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the deployment")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the path")
	return cmd
}
