// Package hostconf renders the files deploy writes on a site's hosts: the
// yum repo file, the managed /etc/hosts block, kernel modules and sysctls,
// chrony, containerd's config.toml and registry mirrors, keepalived and
// haproxy for the apiserver VIP, and the pod network's bridge and routes.
//
// Every renderer is a pure function of its settings: it touches no host
// and reads nothing. The steps in internal/hostsetup, internal/kubeadm/steps
// and internal/harbor/install install them on the hosts internal/deploy's
// phases name; the paths here are where they go.
package hostconf
