//go:build tools

// Package etcd pins etcd's own etcdctl and etcdutl, of the same release as
// the server: the official registry.k8s.io/etcd image carries both, and
// deploy backup and deploy restore run them from it.
package etcd

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
)
