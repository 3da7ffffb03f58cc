#!/usr/bin/env bash
# build.sh OUT.tgz: makes the Harbor stand-in installer (test site only; see
# install.sh): harbor/install.sh, harbor/harbor-standin (built here) and
# harbor/registry (Debian's docker-registry), as Harbor's offline installer
# lays out harbor/.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
command -v docker-registry >/dev/null || { echo "build.sh: docker-registry not found; install the Debian package docker-registry" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/harbor"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/harbor/harbor-standin" ./internal/cmd/harbor-standin)
cp "$(command -v docker-registry)" "$work/harbor/registry"
cp "$here/install.sh" "$work/harbor/install.sh"
chmod 0755 "$work/harbor/"*
tar -C "$work" --owner=0 --group=0 --mtime=@0 --sort=name -czf "$out" harbor
