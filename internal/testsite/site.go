// Package testsite drives the air-gapped test site of scripts/site from Go:
// an --internal Docker network with a deploy node, two masters and a worker,
// each a Debian container booted by systemd that stands in for an EL host
// (scripts/site/README.md says what runs for real and what does not).
//
// Up starts a site for a test and removes it when the test ends; Start and
// Down do the same without a testing.TB. A Site runs commands in its hosts
// with docker exec, and cuts a host off the network and back for the
// "a host drops" tests. Site methods are safe to call concurrently; Start,
// Down, Disconnect and Reconnect change the site and are not meant to race
// with each other on the same host.
package testsite

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Roles of the site's hosts.
const (
	RoleDeploy = "deploy"
	RoleMaster = "master"
	RoleWorker = "worker"
)

// DeployHost is the name of the deploy node, where the deployer runs.
const DeployHost = "deploy"

// DeployBinDir is where the deploy node sees the repository's bin/ (read-only).
const DeployBinDir = "/opt/appliance/bin"

// Host is one container of the site.
type Host struct {
	Name      string `json:"name"`      // host name, as in the inventory
	Role      string `json:"role"`      // RoleDeploy, RoleMaster or RoleWorker
	Address   string `json:"address"`   // fixed IPv4 address on the site network
	Container string `json:"container"` // Docker container name
}

// Site is a running test site, as scripts/site/up.sh described it in
// STATE/site.json.
type Site struct {
	Name     string `json:"name"`
	Network  string `json:"network"` // Docker network (--internal)
	Subnet   string `json:"subnet"`  // e.g. 10.210.42.0/24
	Gateway  string `json:"gateway"` // the machine's address on the site bridge
	VIP      string `json:"vip"`     // apiserver VIP, held by no host until keepalived runs
	Image    string `json:"image"`   // appliance-site-host:<hash>
	StateDir string `json:"stateDir"`
	Hosts    []Host `json:"hosts"` // the deploy node first, then masters and workers

	scripts string
}

// loadSite reads STATE/site.json.
func loadSite(stateDir, scripts string) (*Site, error) {
	path := filepath.Join(stateDir, "site.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("test site state %s: %w (was scripts/site/up.sh run with this state directory?)", path, err)
	}
	var s Site
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("test site state %s: %w", path, err)
	}
	if s.Name == "" || s.Network == "" || len(s.Hosts) == 0 {
		return nil, fmt.Errorf("test site state %s names no site, network or hosts; rerun scripts/site/up.sh", path)
	}
	s.scripts = scripts
	return &s, nil
}

// Host returns the host named name.
func (s *Site) Host(name string) (Host, error) {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("test site %s has no host %q (it has %v)", s.Name, name, s.hostNames())
}

// Role returns the hosts with the given role, in inventory order.
func (s *Site) Role(role string) []Host {
	var hs []Host
	for _, h := range s.Hosts {
		if h.Role == role {
			hs = append(hs, h)
		}
	}
	return hs
}

// Targets returns the hosts the deployer prepares: every host but the
// deploy node.
func (s *Site) Targets() []Host {
	var hs []Host
	for _, h := range s.Hosts {
		if h.Role != RoleDeploy {
			hs = append(hs, h)
		}
	}
	return hs
}

func (s *Site) hostNames() []string {
	names := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		names[i] = h.Name
	}
	return names
}

// InventoryPath is the site's inventory (appliance/v1 Inventory). Its paths
// are absolute and valid both on the machine and in the deploy node.
func (s *Site) InventoryPath() string { return filepath.Join(s.StateDir, "inventory.yaml") }

// KnownHosts is the known_hosts file holding every host's keys, read from
// the hosts themselves by up.sh.
func (s *Site) KnownHosts() string { return filepath.Join(s.StateDir, "known_hosts") }

// KeyFile is the site's SSH private key, authorized for root and admin on
// every host. It exists only on the machine and, by mount, in the deploy node.
func (s *Site) KeyFile() string { return filepath.Join(s.StateDir, "id_ed25519") }

// AdminPasswordFile holds the sudo password of the non-root user "admin".
func (s *Site) AdminPasswordFile() string { return filepath.Join(s.StateDir, "admin_password") }

// scriptsDir finds scripts/site: $APPLIANCE_SITE_SCRIPTS, or the directory
// next to this package in the source tree.
func scriptsDir() (string, error) {
	if dir := os.Getenv("APPLIANCE_SITE_SCRIPTS"); dir != "" {
		return dir, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate scripts/site; set APPLIANCE_SITE_SCRIPTS")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "site")
	if _, err := os.Stat(filepath.Join(dir, "up.sh")); err != nil {
		return "", fmt.Errorf("scripts/site/up.sh not found next to the testsite package (%w); set APPLIANCE_SITE_SCRIPTS", err)
	}
	return filepath.Clean(dir), nil
}
