#!/bin/bash
# build-previous-bins.sh OUTDIR BINS: the binaries of the release before the
# shipped one (K8S_PREVIOUS_VERSION), which deploy upgrade's site test
# starts from, into OUTDIR: kubeadm, kubelet, kubectl and the control plane
# built from their own sources (kubernetes-previous/go.mod), everything else
# (etcd, CoreDNS, crictl, the CNI plugins, pause, hello: the same versions
# in both releases) hard-linked from BINS, build-bins.sh's directory of the
# shipped release. Called by build.sh --previous, with GOCACHE and
# GOMODCACHE shared with the shipped release's build: only the packages
# whose sources differ between the two patches compile again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-previous-bins.sh OUTDIR BINS}
bins=${2:?usage: build-previous-bins.sh OUTDIR BINS}
# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
# shellcheck source=scripts/k8s/lib.sh
. "$here/lib.sh"
pin kubernetes-previous k8s.io/kubernetes "$K8S_PREVIOUS_VERSION"
mkdir -p "$out"
out=$(cd "$out" && pwd)
cp -al "$bins/." "$out/" 2>/dev/null || cp -a "$bins/." "$out/"
rm -f "$out/.complete"
pk() { local c; for c; do echo "k8s.io/kubernetes/cmd/$c"; done; }
cd "$here/kubernetes-previous"
for b in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
	rm -f "$out/$b" # a hard link into BINS: never write through it
done
# shellcheck disable=SC2046
t kubernetes-previous $nice go build -ldflags "$(k8s_ldflags "$K8S_PREVIOUS_VERSION")" -o "$out/" \
	$(pk kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
