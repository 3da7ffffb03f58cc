package deploy

import (
	"crypto/rand"
	"fmt"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
)

// haSettings returns the HA settings of master h, with the site's VRRP
// password (vrrpSecret).
func (d *Deployment) haSettings(h inventory.Host, dry bool) (hostconf.HA, error) {
	pass, err := d.vrrpSecret(dry)
	if err != nil {
		return hostconf.HA{}, err
	}
	iface := d.inv.APIServer.Interface
	if iface == "" {
		iface = hostconf.DefaultVRRPInterface
	}
	return hostconf.HA{Site: d.inv.Site, VIP: d.inv.APIServer.VIP, Port: d.inv.APIServer.Port,
		Interface: iface, Self: h, Masters: d.masters, AuthPass: pass}, nil
}

// vrrpSecret returns the site's VRRP password, registered with the
// redactor: the first line of the state directory's VRRPPasswordFile, made
// (8 random characters of A-Z and 2-7) on first use. A password found there
// must be 1 to 8 letters or digits, which keepalived takes as one word.
func (d *Deployment) vrrpSecret(dry bool) (string, error) {
	pass, err := d.secret(state.VRRPPasswordFile, func() (string, error) {
		return rand.Text()[:hostconf.VRRPPassLen], nil
	}, dry)
	if err != nil {
		return "", err
	}
	if !dry || pass[0] != '<' {
		if err := hostconf.CheckVRRPPass(pass); err != nil {
			return "", fmt.Errorf("%s: %w", d.state.Path(state.VRRPPasswordFile), err)
		}
	}
	d.red.Add(pass)
	return pass, nil
}
