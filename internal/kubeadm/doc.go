// Package kubeadm is what deploy gives kubeadm: its configurations
// (InitConfiguration, JoinConfiguration, ClusterConfiguration and the
// kubelet's and kube-proxy's), rendered for the Kubernetes version the
// bundle carries; the join data (bootstrap tokens, certificate keys, the
// CA's discovery hash); and the preflight checks a given kubeadm build must
// skip.
//
// Versions are a window of minors (MinMinor–MaxMinor). Everything that
// differs between them lives in two tables: releases (releases.go: per
// minor, the configuration API, the sandbox image, kubeadm's image tags and
// a preflight bug) and the API versions (api.go: v1beta3 for 1.26–1.30,
// v1beta4 from 1.31, and how their shapes differ). The renderers
// (config.go) ask those tables and hold no version branches of their own.
// A version outside the window is refused with the range (ForVersion).
//
// The site's cluster settings (SiteCluster: endpoint, SANs, CIDRs) and the
// bundle's version (KubernetesVersion) are read here too (site.go), and
// the shell commands deploy runs on a node for kubeadm (its lock, state,
// reset-and-run, conntrack probe, etcd's members) are built here
// (commands.go).
//
// The functions are pure: the steps that run these commands on the hosts
// over SSH are in internal/kubeadm/steps, and internal/deploy
// (kubernetes.go) says which hosts run which step.
package kubeadm
