package inventory

import "github.com/factory-appliance/appliance/internal/sshx"

// SSHConfig returns how to reach the host: address, user, key, known_hosts,
// host key pin, sudo and jump host, from the inventory. The caller adds what
// the inventory does not hold (AcceptNewHostKeys, Passphrase, SudoPassword,
// Log, Redactor, timeouts).
func (inv *Inventory) SSHConfig(h Host) sshx.Config {
	cfg := sshx.Config{
		Name:           h.Name,
		Address:        h.Address,
		Port:           h.Port,
		User:           h.User,
		KeyFile:        h.KeyFile,
		KnownHostsFile: inv.SSH.KnownHosts,
		HostKey:        h.HostKey,
		Sudo:           h.UsesSudo(),
	}
	if j := h.JumpHost; j != nil {
		cfg.Jump = &sshx.Config{
			Name:           "jump host " + j.Address,
			Address:        j.Address,
			Port:           j.Port,
			User:           j.User,
			KeyFile:        j.KeyFile,
			KnownHostsFile: inv.SSH.KnownHosts,
			HostKey:        j.HostKey,
		}
	}
	return cfg
}

// FormerHost is a host the inventory no longer lists (deploy remove-node),
// named and addressed from elsewhere, with the inventory's SSH defaults:
// port, user, key, sudo and jump host.
func (inv *Inventory) FormerHost(name, address string, roles ...Role) Host {
	s := inv.SSH
	return Host{Name: name, Address: address, Roles: roles, Port: s.Port, User: s.User, KeyFile: s.KeyFile, Sudo: s.Sudo, JumpHost: s.JumpHost}
}
