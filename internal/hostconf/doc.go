// Package hostconf renders the files deploy writes on a site's hosts: the
// yum repo file, the managed /etc/hosts block, kernel modules and sysctls,
// chrony, containerd's config.toml and registry mirrors, keepalived and
// haproxy for the apiserver VIP, and the pod network's bridge and routes.
//
// Every renderer is a pure function of its settings: it touches no host
// and reads nothing. The phases in internal/deploy decide which hosts get
// which file and install it; the paths here are where they go.
package hostconf
