#!/bin/bash
# build.sh [--previous] [OUTDIR]: builds the real Kubernetes artifacts of
# the version the built-in stack ships (manifest/stacks/kubesphere.yaml:
# v1.26.15) from source through the Go module proxy, or reuses them, and
# prints the directory holding them (the last line of stdout; progress goes
# to stderr).
#
#   --previous: the same artifacts for K8S_PREVIOUS_VERSION (v1.26.13), the
#   release `deploy upgrade`'s site test upgrades from, built from its own
#   sources (kubernetes-previous/go.mod, build-previous-bins.sh) with the
#   shipped release's etcd, CoreDNS, crictl, CNI plugins and pause, and the
#   same module and build caches. Default OUTDIR:
#   CACHE/previous-<version>-<hash>.
#
#   OUTDIR (default $APPLIANCE_K8S_CACHE/<version>-<hash>, the cache root
#   defaulting to ~/.cache/appliance-k8s; the hash covers scripts/k8s/,
#   internal/cmd/k8s-images, manifest/stacks/kubesphere.yaml, the Go version
#   and the host's xtables-nft-multi):
#     bin/                 kubeadm kubelet kubectl kube-apiserver
#                          kube-controller-manager kube-scheduler kube-proxy
#                          crictl etcd coredns pause hello, cni/{bridge,
#                          host-local,loopback,portmap} - static linux/amd64
#     validate/kubeadm-v1.34.4
#                          kubeadm v1.34.4, only for `kubeadm config validate`
#                          of the deployer's rendered configurations
#     oci/                 OCI image layout: the images of kubesphere.yaml's
#                          kubernetes component (checked against `kubeadm
#                          config images list`), plus
#                          registry.factory.example/library/hello:1.0
#     images.txt           their names, one a line, the stack's order
#     rpms/                kubelet kubeadm kubectl cri-tools kubernetes-cni,
#                          signed, + repodata
#     RPM-GPG-KEY-k8s      the public key the RPMs are signed with
#     BUILD-INFO           versions and the cache keys
#
# The binaries are built once per <hash of the Go sources and versions> into
# CACHE/bins/ and hard-linked into OUTDIR, kubeadm v1.34.4 once per its own
# hash into CACHE/validate/; GOCACHE and GOMODCACHE live in the cache root
# too. README.md has the measured times (cold: tens of minutes; warm: well
# under a second). Needs Go, the Go module proxy, and Debian
# packages rpm, gnupg, createrepo-c, iptables.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
previous=""
if [ "${1:-}" = --previous ]; then
	previous=$K8S_PREVIOUS_VERSION
	shift
fi
root=${APPLIANCE_K8S_CACHE:-$HOME/.cache/appliance-k8s}
xtables=${APPLIANCE_K8S_XTABLES:-/usr/sbin/xtables-nft-multi}
mkdir -p "$root"
root=$(cd "$root" && pwd)
export GOCACHE=$root/gocache GOMODCACHE=$root/gomodcache GOTOOLCHAIN=local

log() { echo "k8s build: $*" >&2; }
for tool in go rpmbuild createrepo_c gpg ldd; do
	command -v "$tool" >/dev/null || { log "$tool not found"; exit 1; }
done
[ -x "$xtables" ] || { log "$xtables not found (Debian package iptables)"; exit 1; }

# tree_hash PATH...: one hash over the names and contents of the files
# (tests and *.md excluded), relative to the repository.
tree_hash() {
	(cd "$repo" && find "$@" -type f ! -name '*_test.go' ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
gover=$(go env GOVERSION)
binkey=$({ echo "$gover"; tree_hash scripts/k8s/versions.env scripts/k8s/lib.sh scripts/k8s/build-bins.sh \
	scripts/k8s/kubernetes scripts/k8s/crictl scripts/k8s/etcd scripts/k8s/coredns scripts/k8s/cni scripts/k8s/extra; } | sha256sum | cut -c1-16)
# kubeadm v1.34.4: its own key (only its version line of versions.env), so
# that a change to the shipped version's sources does not rebuild it.
valkey=$({ echo "$gover"; grep '^KUBEADM_VALIDATE_VERSION=' "$here/versions.env"; echo "$BUILD_DATE"
	tree_hash scripts/k8s/lib.sh scripts/k8s/build-validate.sh scripts/k8s/kubeadm-validate; } | sha256sum | cut -c1-16)
key=$K8S_VERSION-$({ echo "$gover"; sha256sum <"$xtables"
	tree_hash scripts/k8s internal/cmd/k8s-images manifest/stacks/kubesphere.yaml; } | sha256sum | cut -c1-16)
if [ -n "$previous" ]; then
	# The release before: binaries, images and RPMs of its own.
	prevkey=$({ echo "$binkey"; tree_hash scripts/k8s/build-previous-bins.sh scripts/k8s/kubernetes-previous; } | sha256sum | cut -c1-16)
	key=previous-$previous-${key#"$K8S_VERSION"-}
	export K8S_RPM_VERSION=$previous
fi
out=$(realpath -m "${1:-$root/$key}")

# One build at a time per cache root.
exec 9>"$root/.lock"
flock -n 9 || { log "waiting for another build into $root (make test starts one early: out/prefetch/k8s.log)"; flock 9; }

if [ -f "$out/BUILD-INFO" ] && grep -qx "key=$key" "$out/BUILD-INFO"; then
	log "reusing $out"
	echo "$out"
	exit 0
fi
t0=$(date +%s)

# run_logged LOG CMD...: runs CMD with its output in LOG and, every minute,
# says how long it has run and which parts it finished (build-bins.sh's
# "build-bins.sh: PART N s" lines), so a cold build shows progress.
run_logged() {
	local logf=$1 start=$SECONDS i done
	shift
	"$@" >"$logf" 2>&1 &
	local pid=$!
	for ((i = 1; ; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
		if ((i % 60 == 0)); then
			done=$(sed -n 's/^build-[a-z-]*\.sh: \([a-z0-9.-]*\) [0-9]* s$/\1/p' "$logf" | paste -sd' ' -)
			log "still building: $(((SECONDS - start) / 60)) min${done:+; finished: $done}"
		fi
	done
	wait "$pid"
}

# 1. Binaries, shared by every key with the same Go sources.
bins=$root/bins/$binkey
if [ ! -f "$bins/.complete" ]; then
	log "building the binaries into $bins (cold: the longest step, see README.md; log $bins.log)"
	mkdir -p "$root/bins"
	rm -rf "$bins.tmp"
	s=$(date +%s)
	if ! run_logged "$bins.log" "$here/build-bins.sh" "$bins.tmp"; then
		tail -n 40 "$bins.log" >&2
		log "build-bins.sh failed; full log in $bins.log"
		exit 1
	fi
	log "binaries built in $(( $(date +%s) - s )) s"
	touch "$bins.tmp/.complete"
	rm -rf "$bins"
	mv "$bins.tmp" "$bins"
fi

# 1b. The release before's binaries (--previous), from the shipped
# release's.
if [ -n "$previous" ]; then
	pbins=$root/bins/previous-$prevkey
	if [ ! -f "$pbins/.complete" ]; then
		log "building $previous's Kubernetes binaries into $pbins (log $pbins.log)"
		rm -rf "$pbins.tmp"
		s=$(date +%s)
		if ! run_logged "$pbins.log" "$here/build-previous-bins.sh" "$pbins.tmp" "$bins"; then
			tail -n 40 "$pbins.log" >&2
			log "build-previous-bins.sh failed; full log in $pbins.log"
			exit 1
		fi
		log "$previous's binaries built in $(( $(date +%s) - s )) s"
		touch "$pbins.tmp/.complete"
		rm -rf "$pbins"
		mv "$pbins.tmp" "$pbins"
	fi
	bins=$pbins
fi

# 2. kubeadm v1.34.4, shared by every key with the same sources.
val=$root/validate/$valkey
if [ ! -f "$val/.complete" ]; then
	log "building kubeadm $KUBEADM_VALIDATE_VERSION into $val (log $val.log)"
	mkdir -p "$root/validate"
	rm -rf "$val.tmp"
	s=$(date +%s)
	if ! run_logged "$val.log" "$here/build-validate.sh" "$val.tmp"; then
		tail -n 40 "$val.log" >&2
		log "build-validate.sh failed; full log in $val.log"
		exit 1
	fi
	log "kubeadm $KUBEADM_VALIDATE_VERSION built in $(( $(date +%s) - s )) s"
	touch "$val.tmp/.complete"
	rm -rf "$val"
	mv "$val.tmp" "$val"
fi

# 3. Everything else into a fresh directory, renamed into place at the end.
tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/validate"
cp -al "$bins" "$tmp/bin" 2>/dev/null || cp -a "$bins" "$tmp/bin"
rm -f "$tmp/bin/.complete"
ln "$val/kubeadm" "$tmp/validate/kubeadm-$KUBEADM_VALIDATE_VERSION" 2>/dev/null ||
	cp -a "$val/kubeadm" "$tmp/validate/kubeadm-$KUBEADM_VALIDATE_VERSION"

log "writing the OCI images"
(cd "$repo" && go build -o "$tmp/k8s-images" ./internal/cmd/k8s-images)
"$tmp/k8s-images" build --bin "$tmp/bin" --out "$tmp/oci" --xtables "$xtables" \
	--stack kubesphere --component kubernetes ${previous:+--kubernetes-version "$previous"} >"$tmp/images.txt"
rm -f "$tmp/k8s-images"

log "building and signing the RPMs"
"$here/build-rpms.sh" "$tmp/bin" "$tmp/rpms" "$tmp/RPM-GPG-KEY-k8s"

cat >"$tmp/BUILD-INFO" <<INFO
key=$key
binaries=$binkey
validate=$valkey
kubernetes=${previous:-$K8S_VERSION}
etcd=$ETCD_VERSION
coredns=$COREDNS_VERSION
cni=$CNI_VERSION
crictl=$CRICTL_VERSION
cri-tools-rpm=$CRI_TOOLS_RPM_VERSION
kubeadm-validate=$KUBEADM_VALIDATE_VERSION
go=$gover
INFO
rm -rf "$out"
mv "$tmp" "$out"
log "done in $(( $(date +%s) - t0 )) s"
echo "$out"
