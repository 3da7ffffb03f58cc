#!/bin/bash
# build-validate.sh OUTDIR: builds kubeadm $KUBEADM_VALIDATE_VERSION (v1.34.4)
# from source through the Go module proxy into OUTDIR/kubeadm. Only this one
# binary: the deployer's tests run its `kubeadm config validate` on the
# configurations they render (kubeadm 1.26, the version we ship, has no
# `config validate`). Called by build.sh, which caches it by its own key.
#
#   kubeadm-validate/  k8s.io/kubernetes v1.34.4, each staging module replaced by v0.34.4
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-validate.sh OUTDIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)

# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
# shellcheck source=scripts/k8s/lib.sh
. "$here/lib.sh"
pin kubeadm-validate k8s.io/kubernetes "$KUBEADM_VALIDATE_VERSION"
cd "$here/kubeadm-validate"
t kubeadm-validate $nice go build -ldflags "$(k8s_ldflags "$KUBEADM_VALIDATE_VERSION")" -o "$out/kubeadm" k8s.io/kubernetes/cmd/kubeadm
