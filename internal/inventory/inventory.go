package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// APIVersion and Kind identify an inventory document.
const (
	APIVersion = "appliance/v1"
	Kind       = "Inventory"
)

// Role is what a host does in the cluster.
type Role string

// The roles. A host may have several (a worker may also be the registry).
const (
	RoleMaster   Role = "master"
	RoleWorker   Role = "worker"
	RoleRegistry Role = "registry"
)

var knownRoles = []Role{RoleMaster, RoleWorker, RoleRegistry}

// Defaults applied by Load.
const (
	DefaultSSHUser       = "root"
	DefaultSSHPort       = 22
	DefaultKnownHosts    = "~/.ssh/known_hosts"
	DefaultAPIServerPort = 6443
	DefaultPodCIDR       = "10.244.0.0/16"
	DefaultServiceCIDR   = "10.96.0.0/12"
	DefaultCgroupDriver  = CgroupSystemd
)

// The cgroup drivers containerd and kubelet can use; both must use the same.
const (
	CgroupSystemd  = "systemd"
	CgroupCgroupfs = "cgroupfs"
)

// Inventory is one site.
type Inventory struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Site       string     `yaml:"site"`
	BundleKey  string     `yaml:"bundleKey"` // public key that bundles must be signed with
	SSH        SSH        `yaml:"ssh"`       // defaults for every host
	Hosts      []Host     `yaml:"hosts"`
	DeployNode DeployNode `yaml:"deployNode"`
	APIServer  APIServer  `yaml:"apiserver"`
	Network    Network    `yaml:"network"`
	NTP        []string   `yaml:"ntp"`
	Storage    Storage    `yaml:"storage"`
	Harbor     Harbor     `yaml:"harbor"`
	Kubernetes Kubernetes `yaml:"kubernetes"`
	Backup     Backup     `yaml:"backup"`

	// Path is the file the inventory was loaded from.
	Path string `yaml:"-"`
	// Warnings are problems that do not stop a deploy (such as a missing
	// key file while an ssh-agent is available).
	Warnings []Problem `yaml:"-"`
}

// SSH holds connection settings; on Inventory.SSH they are the defaults for
// every host.
type SSH struct {
	User       string    `yaml:"user"`
	KeyFile    string    `yaml:"keyFile"`
	KnownHosts string    `yaml:"knownHosts"`
	Port       int       `yaml:"port"`
	Sudo       *bool     `yaml:"sudo"`
	JumpHost   *JumpHost `yaml:"jumpHost"`
}

// JumpHost is a bastion that connections to the hosts go through.
type JumpHost struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	User    string `yaml:"user"`
	KeyFile string `yaml:"keyFile"`
	HostKey string `yaml:"hostKey"` // optional SHA256 fingerprint pin
}

// Host is one machine of the site. After Load, Port, User, KeyFile, Sudo and
// JumpHost hold the effective values (the host's own, else the ssh defaults).
type Host struct {
	Name     string    `yaml:"name"`
	Address  string    `yaml:"address"`
	Port     int       `yaml:"port"`
	Roles    []Role    `yaml:"roles"`
	User     string    `yaml:"user"`
	KeyFile  string    `yaml:"keyFile"`
	HostKey  string    `yaml:"hostKey"` // optional SHA256 fingerprint pin
	Sudo     *bool     `yaml:"sudo"`
	JumpHost *JumpHost `yaml:"jumpHost"`
}

// HasRole reports whether the host has the role.
func (h *Host) HasRole(r Role) bool { return slices.Contains(h.Roles, r) }

// UsesSudo reports whether commands on the host run through sudo: as set,
// else whenever the user is not root.
func (h *Host) UsesSudo() bool {
	if h.Sudo != nil {
		return *h.Sudo
	}
	return h.User != "root"
}

// DeployNode is the machine deploy runs on and serves the bundle from.
type DeployNode struct {
	Address string `yaml:"address"`
}

// APIServer is the Kubernetes API endpoint; with several masters, keepalived
// holds VIP on Interface and haproxy fronts the masters.
type APIServer struct {
	VIP       string `yaml:"vip"`
	Port      int    `yaml:"port"`
	Interface string `yaml:"interface"`
}

// Network holds the cluster's pod and service CIDRs.
type Network struct {
	PodCIDR     string `yaml:"podCIDR"`
	ServiceCIDR string `yaml:"serviceCIDR"`
}

// Kubernetes holds node settings of the cluster the deployment brings up.
type Kubernetes struct {
	// CgroupDriver is the cgroup driver of containerd and kubelet:
	// "systemd" (default; what kubeadm and EL hosts with systemd expect) or
	// "cgroupfs" (hosts whose systemd does not own the cgroup tree, such as
	// the project's container test site).
	CgroupDriver string `yaml:"cgroupDriver"`
}

// Storage lists the storage endpoints the stack's storage classes use.
type Storage struct {
	NFS  *NFS  `yaml:"nfs"`
	Ceph *Ceph `yaml:"ceph"`
}

// NFS is an NFS export.
type NFS struct {
	Server string `yaml:"server"`
	Path   string `yaml:"path"`
}

// Backup is where the scheduled backups go.
type Backup struct {
	Etcd EtcdBackup `yaml:"etcd"`
}

// Where the masters' daily etcd snapshots go (EtcdBackup.To).
const (
	BackupLocal = "local"
	BackupNFS   = "nfs"
)

// EtcdBackup sets the daily etcd snapshot that a timer takes on each
// master.
type EtcdBackup struct {
	// To is "local" (the default: Dir on each master) or "nfs": the
	// export in storage.nfs, mounted for each snapshot, one directory per
	// master under etcd-backup/ on it.
	To string `yaml:"to"`
	// Dir is the directory on each master with to: local (default
	// /var/lib/appliance/etcd-backup).
	Dir string `yaml:"dir"`
	// Keep is how many snapshots each master keeps (default 7).
	Keep int `yaml:"keep"`
}

// Ceph is the site's Ceph cluster: its monitors as host:port, and its
// fsid, which ceph-csi calls the clusterID.
type Ceph struct {
	Monitors  []string `yaml:"monitors"`
	ClusterID string   `yaml:"clusterID"`
}

// Harbor is the site registry, installed on the host with the registry
// role. After Load, Port and DataVolume hold the effective values and
// AdminPasswordFile is an absolute path (or "").
type Harbor struct {
	// Hostname is the DNS name every host pulls from (written into each
	// host's /etc/hosts for the registry host's address).
	Hostname string `yaml:"hostname"`
	// Port is Harbor's HTTPS port (default 443).
	Port int `yaml:"port"`
	// AdminPasswordFile, on the deploy node, holds the password of Harbor's
	// admin user (the first line). Without it, deploy makes a random one
	// into the state directory (mode 0600) and says where.
	AdminPasswordFile string `yaml:"adminPasswordFile"`
	// DataVolume is where Harbor keeps its data on the registry host
	// (default /data, Harbor's own default).
	DataVolume string `yaml:"dataVolume"`
}

// Harbor defaults.
const (
	DefaultHarborPort       = 443
	DefaultHarborDataVolume = "/data"
)

// HostsWithRole returns the hosts with the role, in inventory order.
func (inv *Inventory) HostsWithRole(r Role) []Host {
	var out []Host
	for _, h := range inv.Hosts {
		if h.HasRole(r) {
			out = append(out, h)
		}
	}
	return out
}

// Host returns the host with the name.
func (inv *Inventory) Host(name string) (Host, bool) {
	for _, h := range inv.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Registry returns the host with the registry role; ok is false when the
// site has none (its hosts then pull from the seed on the deploy node).
func (inv *Inventory) Registry() (Host, bool) {
	regs := inv.HostsWithRole(RoleRegistry)
	if len(regs) == 0 {
		return Host{}, false
	}
	return regs[0], true
}

// applyDefaults fills in defaults and resolves paths relative to dir.
func (inv *Inventory) applyDefaults(dir string) {
	s := &inv.SSH
	s.User = or(s.User, DefaultSSHUser)
	s.Port = orInt(s.Port, DefaultSSHPort)
	s.KnownHosts = resolvePath(dir, or(s.KnownHosts, DefaultKnownHosts))
	s.KeyFile = resolvePath(dir, s.KeyFile)
	inv.BundleKey = resolvePath(dir, inv.BundleKey)
	inv.Harbor.Port = orInt(inv.Harbor.Port, DefaultHarborPort)
	inv.Harbor.DataVolume = or(inv.Harbor.DataVolume, DefaultHarborDataVolume)
	inv.Harbor.AdminPasswordFile = resolvePath(dir, inv.Harbor.AdminPasswordFile)
	inv.APIServer.Port = orInt(inv.APIServer.Port, DefaultAPIServerPort)
	inv.Network.PodCIDR = or(inv.Network.PodCIDR, DefaultPodCIDR)
	inv.Network.ServiceCIDR = or(inv.Network.ServiceCIDR, DefaultServiceCIDR)
	inv.Kubernetes.CgroupDriver = or(inv.Kubernetes.CgroupDriver, DefaultCgroupDriver)
	if s.JumpHost != nil {
		defaultJump(s.JumpHost, s, dir)
	}
	for i := range inv.Hosts {
		h := &inv.Hosts[i]
		h.Port = orInt(h.Port, s.Port)
		h.User = or(h.User, s.User)
		h.KeyFile = or(resolvePath(dir, h.KeyFile), s.KeyFile)
		if h.Sudo == nil {
			h.Sudo = s.Sudo
		}
		if h.JumpHost == nil {
			h.JumpHost = s.JumpHost
		} else {
			defaultJump(h.JumpHost, s, dir)
		}
	}
}

func defaultJump(j *JumpHost, s *SSH, dir string) {
	j.Port = orInt(j.Port, DefaultSSHPort)
	j.User = or(j.User, s.User)
	j.KeyFile = or(resolvePath(dir, j.KeyFile), s.KeyFile)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// resolvePath expands "~/" and makes a relative path relative to dir.
func resolvePath(dir, p string) string {
	switch {
	case p == "":
		return ""
	case p == "~" || strings.HasPrefix(p, "~/"):
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
		return p
	case filepath.IsAbs(p):
		return p
	}
	return filepath.Join(dir, p)
}
