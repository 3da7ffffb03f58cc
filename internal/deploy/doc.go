// Package deploy is the deployment itself: the ordered list of phases that
// verify a bundle, serve it from the deploy node, prepare every host of the
// site over SSH, bring up Kubernetes with kubeadm, install and load Harbor,
// and install the stack.
//
// Deployment.Phases builds the plan from the table of contents
// (contents, in deployment.go): read it to see the whole deployment in
// order. Its top-level phases (PhaseGuide, which deploy --help prints too,
// is read from the same table; TestPhaseGuide keeps this list in step):
//
//	/verify      every entry's digest (the signature is checked before anything)
//	/seed        the site server answers (it runs while deploy runs, and serves
//	             only the inventory's hosts, the deploy node and loopback;
//	             --seed-allow adds addresses, others get 403)
//	/preflight   OS, kernel, CPU, memory, disk, ports (and who holds them), clock,
//	             tools, site server, the compatibility matrix
//	/unique      no two hosts are clones
//	/repos       site CA in the trust store, yum repos on the site server
//	/packages    each role's packages, from the bundle only
//	/system      host names, /etc/hosts, modules, sysctls, swap, SELinux, chrony
//	/containerd  config.toml and a mirror for every source registry, to the seed
//	/ha          keepalived and haproxy on the masters, for apiserver.vip (several
//	             masters only)
//	/kubernetes  when the bundle carries Kubernetes: kubeadm init on the first
//	             master, the other masters and the workers join, the pod network,
//	             every node Ready, a timer on each master that renews its
//	             certificates when fewer than 30 days are left; the admin
//	             kubeconfig lands in the state directory (deploy kubeconfig)
//	/harbor      when a host has the registry role and the bundle Harbor's offline
//	             installer: Harbor installed there, loaded with every image under
//	             its original name, every node's containerd pulling from it
//	/stack       when the bundle plans releases or manifests: each Helm release
//	             and manifest set of the stack, in order, each waiting for its
//	             workloads
//
// Each phase is described further where Phases builds it. Each host phase
// is one function run against an sshx.Runner, so the same code path runs
// for real over SSH and, against an sshx.Recorder, lists the exact commands
// for --dry-run.
//
// Contracts:
//   - Nothing touches a host before the bundle's signature has checked out
//     (Open refuses an unsigned bundle unless InsecureSkipVerify, which
//     warns) and its digests have been verified (the /verify phase, the
//     first in the plan).
//   - Every host phase is idempotent: it may be re-run from the top after it
//     half-finished (the deployer was killed, or the host dropped).
//   - The site server is a process-lifetime service, not a journaled step:
//     Start runs it for as long as the deployer runs, on every run including
//     --resume; the /seed phase only checks that it answers.
//   - Secrets (the sudo password, anything added to the Redactor) never reach
//     the console, the host logs or the journal.
//
// # Where the logic lives
//
// This package is the wiring: Config, Open, Phases and its table of
// contents, hostPhase and Run, the site server's lifecycle (Start, Close),
// the secrets kept in the state directory, and one file per phase that
// says which hosts run which steps. The steps themselves, and what they
// write and run, are built elsewhere, each concern in one package:
//   - internal/remote: one host as a step sees it (commands, uploads,
//     configuration installs, services; the host log);
//   - internal/preflight: /preflight's host checks and /unique;
//   - internal/hostsetup: /repos, /packages (which packages a role gets,
//     RolePackages), /system, /containerd and /ha, with the files
//     rendered by internal/hostconf;
//   - internal/kubeadm/steps: /kubernetes's kubeadm init and joins, pod
//     network and readiness, with kubeadm's configurations and node
//     commands from internal/kubeadm;
//   - internal/harbor/install: /harbor's install, load and mirrors, with
//     harbor.yml and the certificate check from internal/harbor;
//   - internal/stack: /stack's and /kubernetes/cni's releases and
//     manifests;
//   - internal/deploy/state: the state directory; internal/deploy/status:
//     deploy status and deploy plan.
//
// # Test-site hosts
//
// The project's test site runs Debian containers standing in for EL 8 hosts
// (scripts/site/README.md). They are recognised only when Config.TestSiteHosts
// is set (the deploy flag --test-site-hosts): preflight then reads
// /etc/appliance-test-host, which such a host carries, instead of
// /etc/os-release. Without that explicit mode they are refused as not EL, as
// any Debian host is.
package deploy
