/*
Package inventory reads and validates a site inventory: the hosts of one
factory site and how to reach them, their roles, the apiserver VIP, the
cluster networks, NTP, storage endpoints and the Harbor name.

Load reports every problem at once, each with file:line and the fix. A
loaded Inventory has its defaults filled in and its paths expanded ("~/"
and paths relative to the inventory file), so callers never re-derive them.

An inventory looks like this (every field is described on the types and in
docs/inventory.md; Example, which `deploy inventory --example` prints, is a
commented one that loads as it is):

	apiVersion: appliance/v1
	kind: Inventory
	site: factory-a
	bundleKey: keys/cosign.pub        # optional; relative to this file
	ssh:                              # defaults for every host
	  user: root
	  keyFile: ~/.ssh/id_ed25519      # optional: without it, ssh-agent
	  knownHosts: ~/.ssh/known_hosts
	  port: 22
	  jumpHost: {address: 10.0.0.2, user: ops}
	hosts:
	  - {name: master-1, address: 10.0.0.11, roles: [master], hostKey: "SHA256:..."}
	  - {name: master-2, address: 10.0.0.12, roles: [master]}
	  - {name: master-3, address: 10.0.0.13, roles: [master]}
	  - {name: worker-1, address: 10.0.0.21, roles: [worker], user: ops, sudo: true}
	  - {name: harbor, address: 10.0.0.30, roles: [registry]}
	deployNode: {address: 10.0.0.5}
	apiserver: {vip: 10.0.0.10, port: 6443, interface: eth0}
	network: {podCIDR: 10.244.0.0/16, serviceCIDR: 10.96.0.0/12}
	ntp: [10.0.0.1]
	storage: {nfs: {server: 10.0.0.40, path: /export}, ceph: {monitors: ["10.0.0.50:6789"], clusterID: a7f64266-0894-4f1e-a635-d0aeaca0e993}}
	harbor:
	  hostname: harbor.factory.local
	  port: 443                                   # the default
	  adminPasswordFile: /etc/appliance/harbor-admin.pw   # else deploy makes one in the state dir
	  dataVolume: /data                           # the default
	kubernetes: {cgroupDriver: systemd}   # or cgroupfs; containerd and kubelet use it
	backup: {etcd: {to: nfs, keep: 7}}    # daily etcd snapshots: to: local (default, dir: on each master) or nfs (storage.nfs)

Rules Load enforces: host names are hostnames and unique; host addresses
are IP addresses, unique per port, and outside the pod and service CIDRs;
no address anywhere has an IPv6 %zone (it would go into other hosts'
configuration files, where one machine's interface means nothing);
the two CIDRs do not overlap; at least one host is a master, several
masters need apiserver.vip, a free address (no host's, not the deploy
node's, outside both CIDRs), and a single master must not have one (there
is no other master to move it to); at most one host has the registry
role (with none, the deploy skips the Harbor phases and the hosts pull from
the seed); hostKey pins are "SHA256:..." fingerprints; key files exist (a missing one
is only a warning while an ssh-agent runs). Sudo defaults to on for users
other than root.
*/
package inventory
