package inventory

// vipNeedsMasters refuses apiserver.vip with a single master. A VIP is an
// address keepalived moves between masters; with one master there is
// nothing to move it to (keepalived's unicast VRRP has no peer, and its
// config test fails), and the one master's own address already reaches the
// apiserver. Refusing it here, at load, names the cause and the fix before
// any host is touched; rendering a keepalived for one master would instead
// run a load balancer in front of a single backend, which the user gains
// nothing from and which would hold the apiserver's port.
//
// It is kept apart from the other checks of validate.go on purpose: it is
// the one rule about how many masters a field makes sense with.
func (v *validator) vipNeedsMasters() {
	masters := v.inv.HostsWithRole(RoleMaster)
	if len(masters) != 1 || v.inv.APIServer.VIP == "" {
		return
	}
	m := masters[0]
	v.add("apiserver.vip",
		"remove apiserver.vip (the cluster is then reached at "+m.Name+"'s own address), or list 3 masters for a highly available apiserver behind the VIP",
		"apiserver.vip %s is set, but %s is the only master: a VIP moves between several masters (keepalived has no peer to share it with)",
		v.inv.APIServer.VIP, m.Name)
}
