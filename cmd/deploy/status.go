package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/deploy/status"
)

// newStatusCmd is deploy status: where the deployment in --state-dir
// stands, on one screen.
func newStatusCmd() *cobra.Command {
	var stateDir string
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status [--state-dir DIR] [--json] [--timeout 10s]",
		Short: "Show where the deployment stands: phases, nodes, releases, Harbor, certificates, day-two operations",
		Long: `status shows, on one screen, where the deployment recorded in --state-dir
stands:

  Site              the state directory, the bundle's name, version and digest,
                    when the deployment started and last changed
  Phases            leaf phases completed, failed (with their error's first
                    line), in progress and pending; what is left, and the
                    command that resumes
  Kubernetes nodes  name, Ready, roles, kubelet version, internal IP
  Releases          the cluster's Helm releases, all namespaces
  Harbor            the state of the /harbor phases, if the plan has them
  Certificates      the soonest to expire, and a warning for each with fewer
                    than 30 days left (from deploy certs' last reading, the
                    admin kubeconfig and the site CA)
  Operations        each day-two operation (deploy certs renew, backup,
                    restore, add-node, remove-node): its state, error and
                    the command that resumes it

It reads the journal without locking it, so it can watch a deploy that is
running. Nodes and releases are read from the cluster with the admin
kubeconfig in the state directory (its contents are never shown), within
--timeout. The kubeconfig must be as kubeadm writes it (the client
certificate and key inline; no exec or auth-provider plugin, file path or
proxy) and name the API server plan.json records; any other is refused,
naming the field; a cluster that does not answer is reported in its section and
the rest is still shown. It exits 1 only when the state directory holds no
readable deployment.

--json prints one object with the same content. Its fields:

  site         stateDir, bundle, version, bundleDigest, started, lastChange
  phases       total, completed, failed, inProgress, pending (counts of leaf
               phases); failedPhases and inProgressPhases ([{id, host,
               attempt, since, error}]); left ([{id, state, completed,
               total}]); resume (absent when every phase completed)
  kubernetes   state, kubeconfig (path), error, nodes ([{name, ready, roles,
               kubeletVersion, internalIP}])
  releases     state, error, releases ([{name, namespace, revision, status,
               chart, appVersion}])
  harbor       state, completed, total
  certificates checked (when deploy certs last read the hosts), soonest
               ({host, path, subject, notAfter, ca}), warnings ([text])
  operations   [{name, title, state, completed, total, lastChange, error,
               resume}]

A section's state is "ok", "not-planned", "no-kubeconfig", "unreachable" or
"error" ("harbor": "not-planned" or the /harbor phases' state); a phase
state is "unstarted", "in_progress", "completed" or "failed".`,
		Example: `  deploy status --state-dir /var/lib/appliance
  deploy status --state-dir /var/lib/appliance --json | jq '.phases.left'
  watch deploy status --timeout 3s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := status.Status(cmd.Context(), stateDir, timeout)
			if err != nil {
				return err
			}
			if asJSON {
				return s.WriteJSON(cmd.OutOrStdout())
			}
			return s.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the deployment")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (fields listed above)")
	cmd.Flags().DurationVar(&timeout, "timeout", status.DefaultStatusTimeout, "bound on reading the cluster's nodes and releases")
	return cmd
}
