#!/usr/bin/env bash
# Installs the Debian packages that the tests, the demo and the bench need.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

pkgs=(
  docker-registry   # the distribution registry: fixture and target registries
  skopeo            # real client: reads OCI layouts, copies from the seed
  containerd        # real client: ctr image import / pull through hosts.toml
  zstd tar          # standard tools read the bundle
  rpm               # rpmbuild and rpmsign for the RPM fixtures
  createrepo-c      # reference repodata
  dnf               # the real yum client
  gnupg             # fixture signing keys
  openssh-server openssh-client
  haproxy keepalived
  debootstrap       # the test site's host image
  iptables          # the test site lets VRRP multicast cross its own bridge only
  sudo              # ssh tests run commands through sudo
  iproute2 time jq curl ca-certificates
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
