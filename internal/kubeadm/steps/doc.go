// Package steps is kubeadm run on the hosts over SSH: each node made ready
// for kubeadm (service route, kubelet's resolv.conf), kubeadm init on the
// first master, the other masters and the workers joined, each node's pod
// network (the deployer's bridge and routes, or its removal for the
// bundle's CNI), and the cluster's readiness (nodes Ready, kube-system
// running, one etcd voter per master); the admin kubeconfig is checked and
// copied into the state directory. Every step takes a *remote.Host, so
// the same code runs over SSH and, against a recorder, for --dry-run; what
// a step needs beyond its node is an explicit Site. The configurations and
// commands themselves are rendered by internal/kubeadm; internal/deploy
// only says which hosts run which step.
//
// Secrets: a bootstrap token or certificate key is registered with the
// Redactor before anything can carry it, never appears on a command line
// (kubeadm reads it from a configuration file, mode 0600), and the file
// that held it is removed (or rewritten without it) whatever happened.
// Every step is idempotent: a node kubeadm finished is left alone, one an
// interrupted run left half done is reset and done again.
package steps
