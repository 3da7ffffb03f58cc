#!/usr/bin/env bash
# k8s-component.sh: puts Kubernetes and the Harbor stand-in into one's own
# stack for the test site, and prints the manifest lines that add them.
#
#   scripts/site/k8s-component.sh --into DIR [--registry ADDR] [--k8s DIR]
#                                 [--stack NAME[:VERSION]] [--mirror REGISTRY]...
#
# For a stack manifest in DIR (its stack.yaml) that is to be deployed onto
# the test site (scripts/site/up.sh):
#   1. Kubernetes: scripts/k8s/build.sh builds it from source (the first time
#      about 20 min; then it is cached and takes seconds), unless --k8s names
#      a build already made. The build is linked at the stable path
#      $APPLIANCE_K8S_CACHE/current (default ~/.cache/appliance-k8s/current),
#      which the printed rpmRepos entry names.
#   2. DIR receives RPM-GPG-KEY-k8s (the key the RPMs are signed with) and
#      harbor-offline-installer-standin.tgz (scripts/site/harbor-standin/
#      build.sh: Harbor's stand-in for the test site).
#   3. With --registry ADDR (a registry on this machine's loopback, plain
#      HTTP, that `bundle build` pulls from, such as the one holding one's
#      own images), the Kubernetes images are pushed there under their
#      repository names (internal/cmd/k8s-images push).
#   4. stdout: the registryMirrors, rpmRepos and components (kubernetes, for
#      masters and workers; harbor, for the registry host) to merge into
#      the spec of DIR/stack.yaml. Progress goes to stderr. With --stack
#      NAME[:VERSION] (version 0.1.0 by default) it prints a whole manifest
#      instead, whose components list ends the file: append one's own
#      components to it. Each --mirror REGISTRY (such as the registry one's
#      own images are named under) is pulled from ADDR too.
#
# Examples:
#   scripts/site/k8s-component.sh --into my-stack --registry 127.0.0.1:5000 >my-stack/k8s.yaml
#   scripts/site/k8s-component.sh --into my-stack --registry 127.0.0.1:5000 \
#       --stack my-stack --mirror registry.myorg.example >my-stack/stack.yaml
#
# The test site's hosts are Debian: they have containerd already, and the
# stand-in runs the real distribution registry under systemd, not Docker, so
# neither component lists containerd or Docker RPMs. A real site needs a
# stack with both (manifest/stacks/kubesphere.yaml).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
site::help "$0" "$@"

usage() {
  echo "usage: scripts/site/k8s-component.sh --into DIR [--registry ADDR] [--k8s DIR] [--stack NAME[:VERSION]] [--mirror REGISTRY]... (--help says more)" >&2
  exit 2
}

into="" registry="" k8s="" stack="" extra=()
while [ $# -gt 0 ]; do
  case $1 in
  --into) into=${2:?--into needs the directory of the stack manifest}; shift 2 ;;
  --registry) registry=${2:?--registry needs host:port}; shift 2 ;;
  --k8s) k8s=${2:?--k8s needs a directory scripts/k8s/build.sh made}; shift 2 ;;
  --stack) stack=${2:?--stack needs a name}; shift 2 ;;
  --mirror) extra+=("${2:?--mirror needs a registry name}"); shift 2 ;;
  *) usage ;;
  esac
done
[ -n "$into" ] || usage
[ -d "$into" ] || site::die "--into $into: no such directory; create it (mkdir -p $into) or name the directory of your stack.yaml"
into=$(cd "$into" && pwd)
case $registry in
"" | 127.* | localhost:* | "[::1]":*) ;;
*) site::die "--registry $registry: give a registry on this machine's loopback (127.0.0.1:PORT), which k8s-images push reaches over plain HTTP" ;;
esac
site::need rpm rpm

log() { echo "k8s-component: $*" >&2; }

# 1. The Kubernetes build, at a stable path.
root=${APPLIANCE_K8S_CACHE:-$HOME/.cache/appliance-k8s}
if [ -z "$k8s" ]; then
  log "Kubernetes from scripts/k8s/build.sh (a cold build takes about 20 min, then it is cached)"
  k8s=$("$repo/scripts/k8s/build.sh" | tail -n 1)
fi
k8s=$(cd "$k8s" && pwd -P) || site::die "--k8s: cannot enter the build directory"
for f in images.txt RPM-GPG-KEY-k8s rpms/repodata/repomd.xml; do
  [ -e "$k8s/$f" ] || site::die "$k8s/$f is missing: is $k8s a directory scripts/k8s/build.sh made? (run it again)"
done
mkdir -p "$root"
ln -sfn "$k8s" "$root/current"
current=$(cd "$root" && pwd)/current
log "Kubernetes build: $current -> $k8s"

# 2. The key and the Harbor stand-in beside the manifest.
install -m 0644 "$k8s/RPM-GPG-KEY-k8s" "$into/RPM-GPG-KEY-k8s"
log "Harbor stand-in installer (scripts/site/harbor-standin/build.sh)"
bash "$here/harbor-standin/build.sh" "$into/harbor-offline-installer-standin.tgz"

# The images of the cluster: images.txt without the test workload image
# scripts/k8s adds (hello), and the registries they come from.
hello=registry.factory.example/library/hello:1.0
mapfile -t images < <(grep -vxF "$hello" "$k8s/images.txt" | grep -v '^[[:space:]]*$')
[ ${#images[@]} -gt 0 ] || site::die "$k8s/images.txt lists no images"
mapfile -t registries < <({ printf '%s\n' "${images[@]}" | cut -d/ -f1; [ ${#extra[@]} -eq 0 ] || printf '%s\n' "${extra[@]}"; } | sort -u)

# 3. The images into the registry bundle build pulls from.
if [ -n "$registry" ]; then
  log "pushing the images of $k8s/oci to $registry"
  (cd "$repo" && go run ./internal/cmd/k8s-images push --layout "$k8s/oci" --addr "$registry") >&2
fi

# The RPMs by NAME-VERSION, as the build made them.
mapfile -t rpms < <(for f in "$k8s"/rpms/*.rpm; do rpm -qp --nosignature --qf '%{NAME}-%{VERSION}\n' "$f" 2>/dev/null; done | sort -u)
[ ${#rpms[@]} -gt 0 ] || site::die "$k8s/rpms holds no RPMs"

# 4. The manifest lines.
mirror=${registry:-REGISTRY}
if [ -n "$stack" ]; then
  version=0.1.0
  case $stack in *:*) version=${stack#*:} stack=${stack%%:*} ;; esac
  cat <<YAML
apiVersion: appliance/v1
kind: Stack
metadata: {name: $stack, version: $version}
YAML
fi
cat <<YAML
# Kubernetes ($(grep -m1 -o 'kube-apiserver:[^[:space:]]*' "$k8s/images.txt" | cut -d: -f2)) and the Harbor stand-in for the test site,
# printed by scripts/site/k8s-component.sh; merge into the spec of stack.yaml.
# RPM-GPG-KEY-k8s and harbor-offline-installer-standin.tgz are in $into.
spec:
  registryMirrors:              # bundle build pulls these registries' images from $mirror
YAML
for r in "${registries[@]}"; do
  echo "    $r: $mirror"
done
[ -n "$registry" ] || echo "    # REGISTRY: run again with --registry 127.0.0.1:PORT, a registry on loopback, to push the images there"
cat <<YAML
  rpmRepos:
    - {id: kubernetes, baseurl: "file://$current/rpms", gpgkey: RPM-GPG-KEY-k8s}
  components:
    - name: kubernetes
      roles: [master, worker]
      rpms:
YAML
printf '        - %s\n' "${rpms[@]}"
echo "      images:"
printf '        - %s\n' "${images[@]}"
cat <<'YAML'
    - name: harbor              # Harbor's stand-in: no Docker RPMs, it runs under systemd
      roles: [registry]
      files: [harbor-offline-installer-standin.tgz]
YAML
