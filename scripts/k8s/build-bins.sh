#!/bin/bash
# build-bins.sh OUTDIR: builds every binary of the Kubernetes artifacts from
# source through the Go module proxy into OUTDIR (flat). Called by build.sh,
# which sets GOCACHE/GOMODCACHE under the cache root; usable alone for probes.
#
# Versions are pinned by the go.mod/go.sum files next to this script, and
# named once more in versions.env:
#   kubernetes/  k8s.io/kubernetes v1.26.15, each staging module replaced by
#                v0.26.15, except four whose v0.26.15 (and v0.26.14) zips the
#                proxy refuses: controller-manager, kube-controller-manager,
#                kube-proxy, sample-apiserver at v0.26.13 (README.md)
#   etcd/        go.etcd.io/etcd/server/v3 v3.5.10 (its main package is the module root),
#                and etcdctl and etcdutl of the same release (the official
#                etcd image carries both; deploy backup/restore run them)
#   coredns/     github.com/coredns/coredns v1.9.3
#   cni/         github.com/containernetworking/plugins v1.2.0 (bridge, host-local, loopback, portmap)
#   crictl/      github.com/kubernetes-sigs/cri-tools v1.26.1 (v1.26.0 is not served)
#   extra/       pause and hello, our own programs
# kubeadm v1.34.4 (for `kubeadm config validate`) is built by build-validate.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-bins.sh OUTDIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)

# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
# shellcheck source=scripts/k8s/lib.sh
. "$here/lib.sh"
pin kubernetes k8s.io/kubernetes "$K8S_VERSION"
pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
pin etcd go.etcd.io/etcd/etcdctl/v3 "$ETCD_VERSION"
pin etcd go.etcd.io/etcd/etcdutl/v3 "$ETCD_VERSION"
pin coredns github.com/coredns/coredns "$COREDNS_VERSION"
pin cni github.com/containernetworking/plugins "$CNI_VERSION"
pin crictl github.com/kubernetes-sigs/cri-tools "$CRICTL_VERSION"
pin crictl k8s.io/kubernetes "$K8S_VERSION"
ldf=$(k8s_ldflags "$K8S_VERSION")

# kubeadm first: build.sh needs it for the image list, and it is the cheapest
# way to notice a broken module setup early.
pk() { local c; for c; do echo "k8s.io/kubernetes/cmd/$c"; done; }
cd "$here/kubernetes"
t kubeadm $nice go build -ldflags "$ldf" -o "$out/kubeadm" k8s.io/kubernetes/cmd/kubeadm
# shellcheck disable=SC2046
t kubernetes $nice go build -ldflags "$ldf" -o "$out/" $(pk kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

cd "$here/crictl"
t crictl $nice go build -ldflags "-s -w -X github.com/kubernetes-sigs/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
	-o "$out/crictl" github.com/kubernetes-sigs/cri-tools/cmd/crictl
cd "$here/etcd"
t etcd $nice go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$out/etcd" go.etcd.io/etcd/server/v3
t etcdctl $nice go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$out/" go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
cd "$here/coredns"
t coredns $nice go build -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" -o "$out/coredns" github.com/coredns/coredns
cd "$here/cni"
mkdir -p "$out/cni"
t cni $nice go build -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_VERSION" -o "$out/cni/" \
	github.com/containernetworking/plugins/plugins/main/bridge \
	github.com/containernetworking/plugins/plugins/ipam/host-local \
	github.com/containernetworking/plugins/plugins/main/loopback \
	github.com/containernetworking/plugins/plugins/meta/portmap
cd "$here/extra"
t extra $nice go build -ldflags "-s -w" -o "$out/" ./pause ./hello
