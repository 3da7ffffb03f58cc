// Package hostsetup prepares a host of the site from the bundle, before
// Kubernetes: the site CA in its trust store and yum pointed at the site
// server (Repos), each role's packages from the bundle only (Packages,
// RolePackages), its name, /etc/hosts, kernel modules, sysctls, swap,
// SELinux and chrony (System), containerd with a mirror for every source
// registry (Containerd, WriteMirrors), and keepalived and haproxy for the
// apiserver VIP (HA). Each step is idempotent and takes a *remote.Host, so
// it runs over SSH and, against a recorder, for --dry-run; the files it
// writes are rendered by internal/hostconf; what it needs beyond the host
// is an explicit Site. internal/deploy runs the steps as /repos,
// /packages, /system, /containerd and /ha.
//
// # Roles and packages
//
// Which packages a host gets is decided by its roles (see RolePackages): the
// bundle may say so itself with index annotations
// "appliance.packages/<role>" (a space-separated list of package names, for
// every role it names), and otherwise the fixed mapping DefaultRolePackages
// applies. Either way every package named must be in the bundle's repos.
package hostsetup

import (
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
)

// Site is what the steps know beyond the host they run on: explicit
// inputs, read from the inventory, the bundle and the deployment by
// internal/deploy.
type Site struct {
	// Inventory is the site: its hosts (/etc/hosts), NTP servers,
	// containerd's cgroup driver.
	Inventory *inventory.Inventory
	// Index is the bundle's: its repos, packages and images.
	Index *bundle.Index
	// SeedURL is the site server's base URL, as hosts reach it.
	SeedURL string
	// CACert returns the site CA certificate (the site server's, known
	// once it started; in a dry run the state directory's, if any).
	CACert func() []byte
	// HarborURL is where nodes reach the site's Harbor: a node handed over
	// to it (HandedOver) keeps pulling from it.
	HarborURL string
	// HASettings returns the keepalived and haproxy settings of master h,
	// with the site's VRRP password (made on first use, except in a dry
	// run).
	HASettings func(h inventory.Host, dry bool) (hostconf.HA, error)
	// TestSiteHosts tolerates what a test-site container cannot do (see
	// internal/deploy's package documentation).
	TestSiteHosts bool
}
