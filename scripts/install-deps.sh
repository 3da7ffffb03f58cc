#!/usr/bin/env bash
# Installs the Debian packages that the tests, the demo and the bench need,
# and the Docker engine (docker.io) when the machine has no docker command:
# make demo and make site-test run the test site's hosts as containers.
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
# Any Docker engine will do (docker.io, docker-ce, ...): only a machine
# without a docker command gets Debian's.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The engine must answer, not only be installed. With systemd, start it;
# otherwise (a container, say) say plainly what is missing. Only the demo's
# site and the site test need it, so this does not fail the other targets.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl enable --now docker >/dev/null 2>&1 || true
  fi
  if ! err=$(docker info 2>&1 >/dev/null); then
    echo "install-deps: the Docker engine is required by make demo and make site-test (the test site's hosts are containers), and it does not answer:" >&2
    echo "  docker info: $(printf '%s' "$err" | tail -n 1)" >&2
    echo "  start it (systemctl start docker, or dockerd where there is no systemd), or run DEMO_SITE=0 make demo, which needs no Docker" >&2
  fi
fi
