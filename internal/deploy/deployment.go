package deploy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/hostsetup"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
	"github.com/factory-appliance/appliance/internal/sshx"
	"github.com/factory-appliance/appliance/internal/stack"
	"github.com/factory-appliance/appliance/internal/trust"
)

// DefaultSeedPort is the port the site server listens on, on the deploy
// node's inventory address.
const DefaultSeedPort = 5443

// DefaultAttempts is how many times a host phase is tried before it fails.
const DefaultAttempts = 3

// Config is what a deployment needs. The zero values of the optional fields
// give the defaults listed.
type Config struct {
	// BundlePath is the bundle file to deploy.
	BundlePath string
	// BasePath is the full bundle BundlePath was built against, when it is
	// a delta bundle.
	BasePath string
	// KeyPath is the cosign public key bundle.json must be signed with
	// (default: the inventory's bundleKey). InsecureSkipVerify deploys
	// without checking the signature, after a loud warning; digests are
	// still checked.
	KeyPath            string
	InsecureSkipVerify bool

	// Inventory is the site.
	Inventory *inventory.Inventory
	// StateDir holds the journal, the host logs and the site CA.
	StateDir string

	// SeedPort is the site server's port (default DefaultSeedPort).
	SeedPort int
	// SeedAllow adds client addresses the site server admits, beyond the
	// inventory's hosts, the deploy node and loopback (see SeedAllowList).
	SeedAllow []netip.Prefix

	// AcceptNewHostKeys records unknown host keys in known_hosts on first
	// contact instead of refusing them.
	AcceptNewHostKeys bool
	// SudoPassword is given to sudo on hosts whose user is not root. It is
	// registered with the Redactor.
	SudoPassword string
	// DialTimeout, DialAttempts, KeepaliveInterval and CommandTimeout tune
	// SSH (sshx.Config defaults when zero): how soon a host that dropped is
	// noticed and given up on.
	DialTimeout       time.Duration
	DialAttempts      int
	KeepaliveInterval time.Duration
	CommandTimeout    time.Duration

	// StackTimeout bounds each /stack step's wait for its workloads
	// (default stack.DefaultTimeout).
	StackTimeout time.Duration

	// Attempts is how many times a host phase is tried (default
	// DefaultAttempts).
	Attempts int
	// Parallelism caps the hosts worked on at once per phase (default
	// plan.DefaultParallelism).
	Parallelism int

	// AllowIncompatible names rows of the compatibility matrix
	// (internal/compat) whose violations /preflight only warns about, such
	// as compat.RowKernelKubeadm. Unsupported; every use is warned about.
	AllowIncompatible []string

	// TestSiteHosts accepts the project's test-site hosts (see the package
	// documentation). Never set it for a real site.
	TestSiteHosts bool

	// Redactor masks secrets everywhere (default: a new one).
	Redactor *sshx.Redactor
	// Out receives progress; Warn receives warnings (default: discarded).
	Out  io.Writer
	Warn io.Writer
}

// Deployment is one deployment of a bundle onto a site. Its methods are not
// safe for concurrent use, except what the phases themselves call.
type Deployment struct {
	cfg    Config
	inv    *inventory.Inventory
	red    *sshx.Redactor
	bundle *bundle.Reader
	index  *bundle.Index
	seed   *seed
	state  state.Dir // cfg.StateDir

	// k8sVersion is the Kubernetes version the bundle carries ("" for none).
	k8sVersion string

	hosts   []inventory.Host // every host, in inventory order
	nodes   []inventory.Host // masters and workers: containerd
	masters []inventory.Host

	connMu sync.Mutex
	conns  map[string]*sshx.Client
	logs   []*os.File
}

// Open checks the configuration and opens the bundle, verifying its
// signature before anything else reads it (see trust.OpenVerified). It
// touches no host and starts nothing. Close releases the bundle and every
// SSH connection.
func Open(cfg Config) (*Deployment, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d := openSite(cfg)
	cfg = d.cfg
	// The seed serves this bundle to every host at once: share verified
	// chunks between their requests.
	r, err := trust.OpenWithBase(cfg.BundlePath, cfg.BasePath, cfg.KeyPath, cfg.InsecureSkipVerify, cfg.Warn, bundle.WithChunkCache(content.ChunkCacheSize()))
	if err != nil {
		return nil, err
	}
	d.bundle, d.index = r, r.Index()
	d.k8sVersion = kubeadm.KubernetesVersion(d.index)
	if reg, ok := d.inv.Registry(); ok {
		if _, ok := harbor.Installer(d.index); !ok {
			fmt.Fprintf(cfg.Warn, "warning: %s has the registry role, but the bundle carries no Harbor offline installer (harbor-offline-installer-*.tgz among a component's files): Harbor is not installed, and the nodes keep pulling from the seed on the deploy node\n", reg.Name)
		}
	}
	return d, nil
}

// openSite is a Deployment of the site alone: its inventory, state
// directory and SSH settings, without a bundle, for day-two operations
// (OpenOps) and as the start of Open. cfg is checked by the caller.
func openSite(cfg Config) *Deployment {
	cfg.defaults()
	d := &Deployment{cfg: cfg, inv: cfg.Inventory, red: cfg.Redactor, state: state.Dir(cfg.StateDir), conns: map[string]*sshx.Client{}}
	d.red.Add(cfg.SudoPassword)
	d.hosts = d.inv.Hosts
	for _, h := range d.hosts {
		if h.HasRole(inventory.RoleMaster) || h.HasRole(inventory.RoleWorker) {
			d.nodes = append(d.nodes, h)
		}
	}
	d.masters = d.inv.HostsWithRole(inventory.RoleMaster)
	return d
}

func (c *Config) check() error {
	switch {
	case c.Inventory == nil:
		return errors.New("deploy: no inventory; give -i inventory.yaml")
	case c.BundlePath == "":
		return errors.New("deploy: no bundle; give --bundle FILE")
	case c.StateDir == "":
		return errors.New("deploy: no state directory; give --state-dir DIR")
	case c.Inventory.DeployNode.Address == "":
		return fmt.Errorf("inventory %s: deployNode.address is not set; set it to the deploy node's address on the site network, which hosts reach the site server at", c.Inventory.Path)
	}
	if _, err := compat.Apply(nil, c.AllowIncompatible); err != nil {
		return err
	}
	if c.KeyPath == "" && !c.InsecureSkipVerify {
		c.KeyPath = c.Inventory.BundleKey
	}
	return nil
}

func (c *Config) defaults() {
	if c.SeedPort == 0 {
		c.SeedPort = DefaultSeedPort
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.StackTimeout <= 0 {
		c.StackTimeout = stack.DefaultTimeout
	}
	if c.Redactor == nil {
		c.Redactor = sshx.NewRedactor()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Warn == nil {
		c.Warn = io.Discard
	}
}

// Close stops the site server (if Start ran), closes every SSH connection
// and the bundle. It is idempotent.
func (d *Deployment) Close() error {
	var errs []error
	if d.seed != nil {
		errs = append(errs, d.seed.stop())
		d.seed = nil
	}
	d.connMu.Lock()
	for _, c := range d.conns {
		errs = append(errs, c.Close())
	}
	d.conns = map[string]*sshx.Client{}
	for _, f := range d.logs {
		errs = append(errs, f.Close())
	}
	d.logs = nil
	d.connMu.Unlock()
	if d.bundle != nil {
		errs = append(errs, d.bundle.Close())
		d.bundle = nil
	}
	return errors.Join(errs...)
}

// Index returns the bundle's verified index.
func (d *Deployment) Index() *bundle.Index { return d.index }

// SeedAddr is host:port of the site server, as hosts reach it.
func (d *Deployment) SeedAddr() string {
	return net.JoinHostPort(d.inv.DeployNode.Address, strconv.Itoa(d.cfg.SeedPort))
}

// seedURL is the site server's base URL, without a trailing slash.
func (d *Deployment) seedURL() string { return "https://" + d.SeedAddr() }

// Phases is the whole deployment, in order: the phases of contents that
// this deployment has. Each top-level phase starts once the one before it
// has completed on every host.
func (d *Deployment) Phases() []*plan.Phase {
	var out []*plan.Phase
	for _, t := range d.contents() {
		if p := t.build(t.id); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// topPhase is one top-level phase: its id, what it does (for people:
// deploy --help and the package documentation, see PhaseGuide), and the
// builder of this deployment's phase id (nil when it has none, such as
// /ha with one master).
type topPhase struct {
	id, what string
	build    func(id string) *plan.Phase
}

// contents is the table of contents: every top-level phase a deployment
// can have, in plan order. Phases builds the plan from it and PhaseGuide
// lists it, so the two cannot differ. The builders run only in Phases.
func (d *Deployment) contents() []topPhase {
	return []topPhase{
		{"/verify", "every entry's digest (the signature is checked before anything)", d.verifyPhase},
		{"/seed", "the site server answers (it runs while deploy runs, and serves only the inventory's hosts, the deploy node and loopback; --seed-allow adds addresses, others get 403)", d.seedPhase},
		{"/preflight", "OS, kernel, CPU, memory, disk, ports (and who holds them), clock, tools, site server, the compatibility matrix", func(id string) *plan.Phase {
			return d.eachHost(id, "Check every host before changing any", d.hosts, "Preflight checks", d.preflightSite().Check)
		}},
		{"/unique", "no two hosts are clones", d.uniquePhase},
		{"/repos", "site CA in the trust store, yum repos on the site server", func(id string) *plan.Phase {
			return d.eachHost(id, "Point yum at the site server", d.hosts, "Site CA and yum repos", d.hostSetup().Repos)
		}},
		{"/packages", "each role's packages, from the bundle only", func(id string) *plan.Phase {
			return d.eachHost(id, "Install each role's packages", d.hosts, "Install packages", d.hostSetup().Packages)
		}},
		{"/system", "host names, /etc/hosts, modules, sysctls, swap, SELinux, chrony", func(id string) *plan.Phase {
			return d.eachHost(id, "Host names, /etc/hosts, kernel settings, time", d.hosts, "System settings", d.hostSetup().System)
		}},
		{"/containerd", "config.toml and a mirror for every source registry, to the seed", func(id string) *plan.Phase {
			return d.eachHost(id, "containerd with registry mirrors", d.nodes, "Configure containerd", d.hostSetup().Containerd)
		}},
		{"/ha", "keepalived and haproxy on the masters, for apiserver.vip (several masters only)", func(id string) *plan.Phase {
			return d.eachHost(id, "keepalived and haproxy for the apiserver VIP", d.haHosts(), "keepalived and haproxy", d.hostSetup().HA)
		}},
		{"/kubernetes", "when the bundle carries Kubernetes: kubeadm init on the first master, the other masters and the workers join, the pod network, every node Ready, a timer on each master that renews its certificates when fewer than 30 days are left; the admin kubeconfig lands in the state directory (deploy kubeconfig)", d.kubernetesPhase},
		{"/harbor", "when a host has the registry role and the bundle Harbor's offline installer: Harbor installed there, loaded with every image under its original name, every node's containerd pulling from it", d.harborPhase},
		{"/stack", "when the bundle plans releases or manifests: each Helm release and manifest set of the stack, in order, each waiting for its workloads", d.stackPhase},
	}
}

// hostSetup is what the host steps of internal/hostsetup need of this
// deployment.
func (d *Deployment) hostSetup() *hostsetup.Site {
	return &hostsetup.Site{Inventory: d.inv, Index: d.index, SeedURL: d.seedURL(), CACert: d.caCert,
		HarborURL: install.URL(d.inv.Harbor), HASettings: d.haSettings, TestSiteHosts: d.cfg.TestSiteHosts}
}

// eachHost is phase id: fn run on each of hosts, as the leaves id/<host>
// titled leaf (hostPhase). It is nil when there are no hosts (a site with
// one master has no /ha phase).
func (d *Deployment) eachHost(id, title string, hosts []inventory.Host, leaf string, fn hostFunc) *plan.Phase {
	if len(hosts) == 0 {
		return nil
	}
	return plan.ForEach(id, title, hosts, d.hostPhase(id, leaf, fn))
}

// oneHost is phase id: fn run on host h, as its one leaf id/<h> titled
// leaf (hostPhase).
func (d *Deployment) oneHost(id, title string, h inventory.Host, leaf string, fn hostFunc) *plan.Phase {
	return plan.Group(id, title, d.hostPhase(id, leaf, fn)(h))
}

// present returns the phases that are not nil, in order.
func present(phases ...*plan.Phase) []*plan.Phase {
	out := phases[:0]
	for _, p := range phases {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Plan validates Phases into a plan.
func (d *Deployment) Plan() (*plan.Plan, error) { return plan.New(d.Phases()...) }

// secret reads the state directory's secret file name, making one with
// newSecret when there is none (state.Dir.Secret) and saying so on Out.
func (d *Deployment) secret(name string, newSecret func() (string, error), dry bool) (string, error) {
	s, made, err := d.state.Secret(name, newSecret, dry)
	if made {
		fmt.Fprintf(d.cfg.Out, "made %s (mode 0600) in %s\n", name, d.cfg.StateDir)
	}
	return s, err
}

// haHosts are the masters when the site has a VIP (several masters), else
// none: one master needs no load balancer.
func (d *Deployment) haHosts() []inventory.Host {
	if d.inv.APIServer.VIP == "" {
		return nil
	}
	return d.masters
}
