package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Site is what the steps know beyond the node they run on: explicit
// inputs, read from the inventory, the bundle and the state directory by
// internal/deploy.
type Site struct {
	// Cluster is the site's cluster (kubeadm.SiteCluster).
	Cluster kubeadm.Cluster
	// Index is the bundle's: its images (checkImages) and its name, in
	// messages.
	Index *bundle.Index
	// State is where the admin kubeconfig lands (FetchKubeconfig).
	State state.Dir
	// Redactor learns every join secret before a command or log can carry
	// it.
	Redactor *sshx.Redactor
	// AllowIncompatible names the compatibility rows the operator
	// overrode (compat.RowKernelKubeadm makes kubeadm skip
	// SystemVerification).
	AllowIncompatible []string
	// First is the first master: kubeadm init runs there, and the other
	// nodes' steps make tokens and run kubectl there.
	First inventory.Host
	// Masters and Nodes are how many masters and nodes (masters and
	// workers) the cluster has when it is ready (ClusterReady).
	Masters, Nodes int
	// Dial returns the runner of host h (the first master, from another
	// node's step), connected once and reused.
	Dial func(ctx context.Context, h inventory.Host) (sshx.Runner, error)
}

// kubeadmNode is host h as kubeadm's configurations name it, with the
// preflight checks its kubeadm build must skip: the ones the release table
// names for that build (kubeadm version -o json on the host), and
// SystemVerification where the operator overrode the kernel rule of the
// compatibility matrix (kubeadm 1.32–1.33 fail it on kernels before 4.19).
// It also fails when the host's kubeadm is not the bundle's Kubernetes.
func (s *Site) kubeadmNode(ctx context.Context, h *remote.Host) (kubeadm.Node, error) {
	n := kubeadm.Node{Name: h.Host.Name, Address: h.Host.Address}
	if slices.Contains(s.AllowIncompatible, compat.RowKernelKubeadm) {
		n.Ignore = append(n.Ignore, kubeadm.CheckSystemVerification)
	}
	out, err := h.Out(ctx, "kubeadm version -o json")
	if err != nil || h.Dry {
		return n, err
	}
	b, err := kubeadm.ParseBuild([]byte(out))
	if err != nil {
		return n, fmt.Errorf("the kubeadm on %s: %w", h.Host.Name, err)
	}
	c := s.Cluster
	if err := kubeadm.CheckBuild(c, b, h.Host.Name); err != nil {
		return n, err
	}
	r, err := kubeadm.ForVersion(c.Version)
	if err != nil {
		return n, err
	}
	for _, check := range r.PreflightIgnores(b) {
		n.Ignore = append(n.Ignore, check)
		plan.Logf(ctx, "kubeadm on %s (%s, built with %s) skips its %s preflight check, which that build cannot run (see internal/kubeadm, BracketFixedIn)", h.Host.Name, b.Version, b.GoVersion, check)
	}
	return n, nil
}

// kubectl runs kubectl with the cluster-admin kubeconfig of a master.
const kubectl = "kubectl --kubeconfig " + kubeadm.AdminConf + " "

// prepareNode makes a node ready for kubeadm: a route for the service CIDR
// when the host has none (an air-gapped host often has no default route,
// and a pod's or kubelet's packet to a service address must leave through
// kube-proxy's rules), kubelet's resolv.conf, and kubelet enabled.
// Idempotent.
func (s *Site) prepareNode(ctx context.Context, h *remote.Host) error {
	cidr := s.Cluster.ServiceCIDR
	changed, err := h.Install(ctx, hostconf.ServiceRouteUnit, []byte(hostconf.RenderServiceRoute(cidr, h.Host.Address)), 0o644, "")
	if err != nil {
		return err
	}
	if err := h.Sh(ctx, "systemctl daemon-reload"); err != nil {
		return err
	}
	if err := h.Service(ctx, "appliance-service-route", changed); err != nil {
		return err
	}
	resolv := fmt.Sprintf(`if grep -q '^nameserver' /etc/resolv.conf 2>/dev/null; then cp /etc/resolv.conf %[1]s.new; `+
		`else printf '# Written by deploy: this host has no name server.\nnameserver %%s\n' %[2]s >%[1]s.new; fi && mv -f %[1]s.new %[1]s`,
		kubeadm.KubeletResolvConf, sshx.Quote(h.Host.Address))
	if err := h.Sh(ctx, "mkdir -p "+kubeadm.Dir+" "+kubeadm.PatchesDir+" && chmod 700 "+kubeadm.Dir+" && "+resolv); err != nil {
		return err
	}
	return h.Sh(ctx, "systemctl enable kubelet")
}

// kubeadmState reads what kubeadm left on a node: "done" (KubeadmDone),
// "partial" (kubeadm's files without KubeadmDone: an interrupted init or
// join), or "clean" (kubeadm.StateCommand). A dry run sees "clean".
func kubeadmState(ctx context.Context, h *remote.Host) (string, error) {
	out, err := h.Out(ctx, kubeadm.StateCommand())
	if out == "" {
		out = kubeadm.StateClean
	}
	return out, err
}

// runKubeadm runs kubeadm ARGS under the node's kubeadm lock, after
// resetting what an interrupted run left (state "partial"), and marks the
// node done when kubeadm succeeds.
// check, when set, is a shell command run after the reset, before kubeadm.
func runKubeadm(ctx context.Context, h *remote.Host, state, check, args string) error {
	if state == kubeadm.StatePartial {
		plan.Logf(ctx, "kubeadm's files of an interrupted run are on %s: kubeadm reset, then again", h.Host.Name)
	}
	if err := h.Sh(ctx, kubeadm.RunCommand(state, check, args)); err != nil {
		return fmt.Errorf("kubeadm %s on %s: %w; its output is in the host log", strings.Fields(args)[0], h.Host.Name, err)
	}
	return nil
}

// InitFirst runs kubeadm init on the first master, once: a master already
// initialised is left as it is, one an interrupted run left half done is
// reset first. The configuration kubeadm ran with holds the bootstrap token
// and the certificate key; it is replaced after init by one without them.
// Then the admin kubeconfig is copied to the state directory.
func (s *Site) InitFirst(ctx context.Context, h *remote.Host) error {
	if err := s.prepareNode(ctx, h); err != nil {
		return err
	}
	self, err := s.kubeadmNode(ctx, h)
	if err != nil {
		return err
	}
	if err := h.Put(ctx, kubeadm.PatchesDir+"/kube-apiserver+json.json", []byte(kubeadm.RenderAPIServerPatch(self)), 0o600); err != nil {
		return err
	}
	state, err := kubeadmState(ctx, h)
	if err != nil {
		return err
	}
	c := s.Cluster
	if state != kubeadm.StateDone {
		leave, err := cannotSetConntrack(ctx, h)
		if err != nil {
			return err
		}
		if leave {
			remote.Warnf(ctx, "nf_conntrack_max cannot be set on %s: kube-proxy will leave it as it is", h.Host.Name)
		}
		c.LeaveConntrack = leave
		token, certKey, err := s.secrets()
		if err != nil {
			return err
		}
		if err := s.putInit(ctx, h, c, self, kubeadm.Secrets{Token: token, CertificateKey: certKey}); err != nil {
			return err
		}
		if err := s.checkImages(ctx, h); err != nil {
			return err
		}
		err = runKubeadm(ctx, h, state, s.apiPortCheck(c, self), "init --config "+kubeadm.ConfigPath+" --upload-certs")
		// The token and the key expire in minutes and two hours; the
		// configuration that held them goes either way, and the one kept
		// (for kubeadm config images list and day two) has none.
		if putErr := s.putInit(ctx, h, c, self, kubeadm.Secrets{}); err == nil {
			err = putErr
		}
		if err != nil {
			return err
		}
	} else {
		plan.Logf(ctx, "%s was initialised by an earlier run", h.Host.Name)
	}
	return s.FetchKubeconfig(ctx, h)
}

// putInit writes the first master's kubeadm configuration with secrets sec
// to kubeadm.ConfigPath (mode 0600).
func (s *Site) putInit(ctx context.Context, h *remote.Host, c kubeadm.Cluster, self kubeadm.Node, sec kubeadm.Secrets) error {
	cfg, err := kubeadm.RenderInit(c, self, sec)
	if err != nil {
		return err
	}
	return h.Put(ctx, kubeadm.ConfigPath, []byte(cfg), 0o600)
}

// apiPortCheck is kubeadm.APIPortCheck on a master whose kubeadm skips its
// own check of the port (SharedPort), else "".
func (s *Site) apiPortCheck(c kubeadm.Cluster, m kubeadm.Node) string {
	if !c.SharedPort {
		return ""
	}
	return kubeadm.APIPortCheck(c, m)
}

// cannotSetConntrack reports whether nf_conntrack_max may not be written
// on the host (it is read-only outside the first network namespace), so
// kube-proxy must not try.
func cannotSetConntrack(ctx context.Context, h *remote.Host) (bool, error) {
	out, err := h.Out(ctx, kubeadm.ConntrackCommand())
	return out == "no", err
}

// secrets returns a new bootstrap token and certificate key, registered
// with the redactor before any command or log can carry them.
func (s *Site) secrets() (token, certKey string, err error) {
	if token, err = kubeadm.NewBootstrapToken(); err != nil {
		return "", "", err
	}
	if certKey, err = kubeadm.NewCertificateKey(); err != nil {
		return "", "", err
	}
	s.Redactor.Add(token)
	s.Redactor.Add(certKey)
	return token, certKey, nil
}

// checkImages compares kubeadm's image list for the rendered configuration
// with the bundle's images, so a missing one is named before kubeadm waits
// on a pull that cannot succeed.
func (s *Site) checkImages(ctx context.Context, h *remote.Host) error {
	out, err := h.Out(ctx, "kubeadm config images list --config "+kubeadm.ConfigPath)
	if err != nil {
		return fmt.Errorf("kubeadm config images list on %s: %w", h.Host.Name, err)
	}
	if missing := kubeadm.MissingImages(s.Index, strings.Fields(out)); len(missing) > 0 {
		return fmt.Errorf("bundle %s %s lacks kubeadm's image(s) %s for Kubernetes %s; add `kubeadm config images list --kubernetes-version %s` to the stack's images and rebuild the bundle",
			s.Index.Name, s.Index.Version, strings.Join(missing, ", "), s.Cluster.Version, s.Cluster.Version)
	}
	return nil
}

// FetchKubeconfig copies the first master's admin kubeconfig to the state
// directory (KubeconfigFile, mode 0600), atomically. The master's file is
// hostile input: it must be of kubeadm's shape and name the endpoint deploy
// configured (kubeconfig.Parse), and what is written is rebuilt from the
// parsed fields, not the master's bytes.
func (s *Site) FetchKubeconfig(ctx context.Context, h *remote.Host) error {
	if h.Dry {
		_, err := h.Out(ctx, "cat "+kubeadm.AdminConf)
		return err
	}
	remote.LogCommand(plan.LogWriter(ctx), "cat "+kubeadm.AdminConf+" # checked, then copied to the state directory")
	out, _, _, err := h.Run(ctx, "cat "+kubeadm.AdminConf)
	if err != nil {
		return fmt.Errorf("reading %s on %s: %w", kubeadm.AdminConf, h.Host.Name, err)
	}
	admin, err := kubeconfig.Parse(kubeadm.AdminConf+" on "+h.Host.Name, out, s.Cluster.Endpoint)
	if err != nil {
		return err
	}
	if err := s.State.WriteKubeconfig(admin.Marshal()); err != nil {
		return err
	}
	plan.Logf(ctx, "the cluster-admin kubeconfig is %s", s.State.KubeconfigPath())
	return nil
}

// first returns the first master as seen from the phase of h: its SSH
// client, or, in a dry run, h's recorder with each command marked as run
// on the first master.
func (s *Site) first(ctx context.Context, h *remote.Host) (*remote.Host, error) {
	m := s.First
	if h.Dry {
		return &remote.Host{Runner: remote.OnHost{Runner: h.Runner, Host: m.Name}, Host: m, Dry: true}, nil
	}
	r, err := s.Dial(ctx, m)
	if err != nil {
		return nil, err
	}
	return &remote.Host{Runner: r, Host: m}, nil
}

// joinSecrets makes a new token (15 minutes) on the first master and, for
// a master, uploads the control-plane certificates under a new key (kubeadm
// deletes them after two hours), and reads the CA's hash. Neither secret
// reaches a command line: kubeadm reads both from a configuration file
// (mode 0600) that is removed whatever happens.
func (s *Site) joinSecrets(ctx context.Context, h *remote.Host, controlPlane bool) (kubeadm.Join, error) {
	m, err := s.first(ctx, h)
	if err != nil {
		return kubeadm.Join{}, err
	}
	token, certKey, err := s.secrets()
	if err != nil {
		return kubeadm.Join{}, err
	}
	j := kubeadm.Join{Token: token}
	first := kubeadm.Node{Name: m.Host.Name, Address: m.Host.Address}
	if err := s.withInitConfig(ctx, m, first, kubeadm.Secrets{Token: token, TokenDescription: "appliance deploy: join of " + h.Host.Name},
		"token", "kubeadm token create --config %s"); err != nil {
		return kubeadm.Join{}, fmt.Errorf("creating a join token on %s: %w", m.Host.Name, err)
	}
	if controlPlane {
		j.CertificateKey = certKey
		if err := s.withInitConfig(ctx, m, first, kubeadm.Secrets{CertificateKey: certKey},
			"upload-certs", "kubeadm init phase upload-certs --upload-certs --config %s"); err != nil {
			return kubeadm.Join{}, fmt.Errorf("uploading the control-plane certificates on %s: %w", m.Host.Name, err)
		}
	}
	ca, err := m.Out(ctx, "cat "+kubeadm.CACert)
	if err != nil {
		return kubeadm.Join{}, err
	}
	if h.Dry {
		j.CAHash = "sha256:<hash of " + kubeadm.CACert + " on " + m.Host.Name + ">"
		return j, nil
	}
	j.CAHash, err = kubeadm.CACertHash([]byte(ca))
	return j, err
}

// withInitConfig runs command (a format with one %s: the configuration's
// path) on the first master m under the first master's configuration with
// secrets sec, written to a file of its own (Dir/NAME.yaml, mode 0600) and
// removed after,
// whatever happened. Without a configuration kubeadm would also guess the
// apiserver's address from the default route, which an air-gapped host may
// lack.
func (s *Site) withInitConfig(ctx context.Context, m *remote.Host, first kubeadm.Node, sec kubeadm.Secrets, name, command string) error {
	cfg, err := kubeadm.RenderInit(s.Cluster, first, sec)
	if err != nil {
		return err
	}
	path := kubeadm.Dir + "/" + name + ".yaml"
	if err := m.Put(ctx, path, []byte(cfg), 0o600); err != nil {
		return err
	}
	return m.Sh(ctx, kubeadm.WithConfigCommand(command, path))
}

// join joins node h (as a master when controlPlane) once: a node that
// completed a join is left as it is; one an interrupted run left half done
// is reset, its Node object deleted, and joined again.
func (s *Site) join(ctx context.Context, h *remote.Host, controlPlane bool) error {
	if err := s.prepareNode(ctx, h); err != nil {
		return err
	}
	self, err := s.kubeadmNode(ctx, h)
	if err != nil {
		return err
	}
	if controlPlane {
		if err := h.Put(ctx, kubeadm.PatchesDir+"/kube-apiserver+json.json", []byte(kubeadm.RenderAPIServerPatch(self)), 0o600); err != nil {
			return err
		}
	}
	state, err := kubeadmState(ctx, h)
	if err != nil || state == kubeadm.StateDone {
		if state == kubeadm.StateDone {
			plan.Logf(ctx, "%s joined in an earlier run", h.Host.Name)
		}
		return err
	}
	if state == kubeadm.StatePartial {
		m, err := s.first(ctx, h)
		if err != nil {
			return err
		}
		if err := m.Sh(ctx, kubectl+"delete node --ignore-not-found "+sshx.Quote(h.Host.Name)); err != nil {
			return err
		}
	}
	j, err := s.joinSecrets(ctx, h, controlPlane)
	if err != nil {
		return err
	}
	c := s.Cluster
	cfg, err := kubeadm.RenderJoin(c, self, j)
	if err != nil {
		return err
	}
	if err := h.Put(ctx, kubeadm.ConfigPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	check := ""
	if controlPlane {
		check = s.apiPortCheck(c, self)
	}
	err = runKubeadm(ctx, h, state, check, "join --config "+kubeadm.ConfigPath)
	// The token in the file expires in minutes; the file goes either way.
	if rmErr := h.Sh(ctx, "rm -f "+kubeadm.ConfigPath); err == nil {
		err = rmErr
	}
	if err == nil {
		plan.Logf(ctx, "%s joined the cluster at %s", h.Host.Name, c.Endpoint)
	}
	return err
}

func (s *Site) JoinMaster(ctx context.Context, h *remote.Host) error {
	return s.join(ctx, h, true)
}
func (s *Site) JoinWorker(ctx context.Context, h *remote.Host) error {
	return s.join(ctx, h, false)
}

// nodeNets lists every node's pod CIDR (assigned by the controller
// manager) and InternalIP, from the first master.
func (s *Site) nodeNets(ctx context.Context, h *remote.Host) ([]hostconf.NodeNet, error) {
	m, err := s.first(ctx, h)
	if err != nil {
		return nil, err
	}
	out, err := m.Out(ctx, kubectl+`get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}'`)
	if err != nil {
		return nil, err
	}
	var nets []hostconf.NodeNet
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			nets = append(nets, hostconf.NodeNet{Name: f[0], PodCIDR: f[1], Address: f[2]})
		}
	}
	return nets, nil
}

// PodNetwork gives node h its pod network: the CNI bridge on its pod CIDR
// and routes to the other nodes' pods. Idempotent; re-run it after a node
// is added.
func (s *Site) PodNetwork(ctx context.Context, h *remote.Host) error {
	nets, err := s.nodeNets(ctx, h)
	if err != nil {
		return err
	}
	var self *hostconf.NodeNet
	for i := range nets {
		if nets[i].Name == h.Host.Name {
			self = &nets[i]
		}
	}
	if self == nil && !h.Dry {
		return fmt.Errorf("node %s is not in the cluster (kubectl get nodes on %s); run deploy --resume to join it", h.Host.Name, s.First.Name)
	}
	cidr := "<pod CIDR of " + h.Host.Name + ">"
	if self != nil {
		if self.PodCIDR == "" {
			return fmt.Errorf("node %s has no pod CIDR; the controller manager allocates them from networking.podSubnet %s: check kube-controller-manager on the masters", h.Host.Name, s.Cluster.PodCIDR)
		}
		cidr = self.PodCIDR
	}
	if err := h.Sh(ctx, "mkdir -p /etc/cni/net.d"); err != nil {
		return err
	}
	if _, err := h.Install(ctx, hostconf.CNIConflist, []byte(hostconf.RenderBridgeConflist(cidr)), 0o644, ""); err != nil {
		return err
	}
	changed, err := h.Install(ctx, hostconf.PodRoutesUnit, []byte(hostconf.RenderPodRoutes(h.Host.Name, nets)), 0o644, "")
	if err != nil {
		return err
	}
	if err := h.Sh(ctx, "systemctl daemon-reload"); err != nil {
		return err
	}
	if err := h.Service(ctx, "appliance-pod-routes", changed); err != nil {
		return err
	}
	plan.Logf(ctx, "pods of %s on %s; routes to %d other node(s)", h.Host.Name, cidr, max(len(nets)-1, 0))
	return nil
}

// DropBridge takes the deployer's bridge configuration and pod routes off
// node h (left by a deploy from a bundle without a CNI), so that kubelet
// uses the bundle's CNI: kubelet takes the first configuration in
// /etc/cni/net.d by name, and 10-appliance sorts before 10-calico.
// The routes the unit added to the other nodes' pod CIDRs are deleted too,
// so they cannot shadow the CNI's. Idempotent. Pods already running keep
// their addresses on the old bridge until they are restarted.
func DropBridge(ctx context.Context, h *remote.Host) error {
	return h.Sh(ctx, fmt.Sprintf("rm -f %[1]s; if [ -e %[2]s ]; then systemctl disable --now appliance-pod-routes; "+
		"sed -n 's|^ExecStart=/sbin/ip route replace \\([^ ]*\\) via .*|\\1|p' %[2]s | while read -r cidr; do /sbin/ip route del \"$cidr\" || true; done; "+
		"rm -f %[2]s; systemctl daemon-reload; fi",
		hostconf.CNIConflist, hostconf.PodRoutesUnit))
}

// ClusterReady waits until every node of the inventory is Ready, every
// kube-system pod is ready, and etcd has one voting member per master; then
// it refreshes the kubeconfig in the state directory.
func (s *Site) ClusterReady(ctx context.Context, h *remote.Host) error {
	want := s.Nodes
	if err := h.Sh(ctx, fmt.Sprintf(`for i in $(seq 1 120); do n=$(%sget nodes --no-headers 2>/dev/null | grep -cw Ready); [ "$n" -ge %d ] && break; sleep 5; done; %sget nodes -o wide; [ "$n" -ge %d ]`,
		kubectl, want, kubectl, want)); err != nil {
		return fmt.Errorf("not every one of the %d nodes is Ready after 10 minutes (kubectl get nodes above, in the host log): %w", want, err)
	}
	if err := h.Sh(ctx, kubectl+"-n kube-system wait --for=condition=Ready pod --all --timeout=10m || { "+kubectl+"-n kube-system get pods -o wide; exit 1; }"); err != nil {
		return fmt.Errorf("kube-system pods are not ready after 10 minutes (kubectl -n kube-system get pods in the host log): %w", err)
	}
	members, err := s.etcdVoters(ctx, h)
	if err != nil {
		return err
	}
	if !h.Dry && members != s.Masters {
		return fmt.Errorf("etcd has %d voting member(s), want one per master (%d): see kubectl -n kube-system logs etcd-<master> on the masters", members, s.Masters)
	}
	plan.Logf(ctx, "%d node(s) Ready, kube-system ready, %d etcd member(s)", want, members)
	return s.FetchKubeconfig(ctx, h)
}

// etcdVoters counts etcd's voting members (learners left out), asking the
// local etcd with the apiserver's client certificate.
func (s *Site) etcdVoters(ctx context.Context, h *remote.Host) (int, error) {
	out, err := h.Out(ctx, kubeadm.EtcdMembersCommand)
	if err != nil || h.Dry {
		return 0, err
	}
	n, err := kubeadm.EtcdVoters([]byte(out))
	if err != nil {
		return 0, fmt.Errorf("etcd's member list on %s: %w", h.Host.Name, err)
	}
	return n, nil
}
