#!/bin/bash
# build-bins.sh OUTDIR: builds every binary of the Kubernetes artifacts from
# source through the Go module proxy into OUTDIR (flat). Called by build.sh,
# which sets GOCACHE/GOMODCACHE under the cache root; usable alone for probes.
#
# Versions are pinned by the go.mod/go.sum files next to this script, and
# named once more in versions.env:
#   kubernetes/  k8s.io/kubernetes v1.34.4, each staging module replaced by v0.34.4
#   etcd/        go.etcd.io/etcd/server/v3 v3.6.5 (its main package is the module root)
#   coredns/     github.com/coredns/coredns v1.12.1
#   cni/         github.com/containernetworking/plugins v1.9.0 (bridge, host-local, loopback, portmap)
#   extra/       pause and hello, our own programs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-bins.sh OUTDIR}
mkdir -p "$out"; out=$(cd "$out" && pwd)

# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
pin() { # pin DIR MODULE VERSION: the go.mod in DIR requires MODULE at VERSION
	grep -Eq "^(require )?[[:space:]]*$2 $3\$" "$here/$1/go.mod" ||
		{ echo "build-bins.sh: $1/go.mod does not require $2 $3 (versions.env)" >&2; exit 1; }
}
pin kubernetes k8s.io/kubernetes "$K8S_VERSION"
pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
pin coredns github.com/coredns/coredns "$COREDNS_VERSION"
pin cni github.com/containernetworking/plugins "$CNI_VERSION"

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
nice=${APPLIANCE_K8S_NICE:-nice -n 10}

major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
ldf="-s -w"
# The same variables hack/lib/version.sh sets, for both version packages, so
# that `kubeadm version` says v1.34.4 and kubeadm picks matching image tags.
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldf="$ldf -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
	ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
	# Not built from the git tree: no commit, rather than the "$Format:%H$"
	# placeholder of the module's sources.
	ldf="$ldf -X $p.gitCommit="
done

t() { # t NAME CMD...: runs CMD, prints its wall time
	local name=$1 s; shift; s=$(date +%s)
	"$@"; echo "build-bins: $name $(( $(date +%s) - s )) s" >&2
}

# kubeadm first: build.sh needs it for the image list, and it is the cheapest
# way to notice a broken module setup early.
pk() { local c; for c; do echo "k8s.io/kubernetes/cmd/$c"; done; }
cd "$here/kubernetes"
t kubeadm $nice go build -ldflags "$ldf" -o "$out/kubeadm" k8s.io/kubernetes/cmd/kubeadm
t kubernetes $nice go build -ldflags "$ldf" -o "$out/" $(pk kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

cd "$here/etcd"
t etcd $nice go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" -o "$out/etcd" go.etcd.io/etcd/server/v3
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
