#!/usr/bin/env bash
# up.sh: starts an air-gapped test site and prints its state directory.
#
#   scripts/site/up.sh NAME [--masters N] [--registry HOST] [--state DIR] [--image TAG] [--bin DIR] [--mount SRC[:DST]]...
#
# The site is one --internal Docker network and host containers with
# fixed addresses: deploy (.10), master-1 (.11), master-2 (.12), ...
# (--masters N, default 2), worker-1 (.21); the apiserver VIP is .100 (in the
# inventory only with several masters); --registry HOST gives HOST (such as
# worker-1) the registry role too, so /harbor installs Harbor there. The
# deployer runs inside the deploy
# container, so it is truly on the air-gapped network: the state directory
# is mounted there at its own path (read-write), bin/ at /opt/appliance/bin
# and every --mount read-only (DST defaults to SRC).
#
# The state directory (default out/site/NAME, or $SITE_STATE) receives:
#   id_ed25519, id_ed25519.pub  the site's SSH key (made once, kept)
#   admin_password              sudo password of the non-root user "admin"
#   known_hosts                 every host key, read from the hosts themselves
#   inventory.yaml              the site inventory (appliance/v1 Inventory)
#   site.json                   network, image and containers, for tools
#   hostfiles/                  what the hosts see at /etc/appliance-site
#
# Idempotent: a site that is already up with the same image and mounts is
# kept (its state files are rewritten); anything else named NAME is removed
# and recreated. Fails, and says why, if the air gap does not hold.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '4p' "$0" | sed 's/^# *//' >&2
  echo "(scripts/site/up.sh --help says more)" >&2
  exit 2
}

# ---- arguments --------------------------------------------------------------

parse_args() {
  site::help "$0" "$@"
  [ $# -ge 1 ] || usage
  name=$1
  shift
  state_arg="" image="" bin="$REPO_DIR/bin" mounts=() masters=2 registry_host=""
  while [ $# -gt 0 ]; do
    case $1 in
    --masters) masters=${2:?--masters needs a number}; shift 2 ;;
    --registry) registry_host=${2:?--registry needs a host name, such as worker-1}; shift 2 ;;
    --state) state_arg=${2:?--state needs a directory}; shift 2 ;;
    --image) image=${2:?--image needs a tag}; shift 2 ;;
    --bin) bin=${2:?--bin needs a directory}; shift 2 ;;
    --mount) mounts+=("$(mount_spec "${2:?--mount needs SRC[:DST]}")"); shift 2 ;;
    *) usage ;;
    esac
  done
  site::validate_name "$name"
  site::set_masters "$masters"
  if [ -n "$registry_host" ] && ! printf '%s\n' "${SITE_HOSTS[@]}" | grep -q "^$registry_host "; then
    site::die "--registry $registry_host: no such host on this site (its hosts: $(printf '%s\n' "${SITE_HOSTS[@]}" | awk '$2 != "deploy" {print $1}' | paste -sd' ' -))"
  fi
}

# mount_spec SRC[:DST] prints ABS_SRC:DST; DST defaults to ABS_SRC.
mount_spec() {
  local src dst=${1#*:}
  src=$(realpath -e "${1%%:*}" 2>/dev/null) || site::die "--mount $1: ${1%%:*} does not exist"
  [ "$dst" = "$1" ] && dst=$src
  [[ $dst = /* ]] || site::die "--mount $1: the destination must be an absolute path"
  echo "$src:$dst"
}

# ---- subnet -----------------------------------------------------------------

# clashes_with_machine SUBNET: true if a route of the machine covers SUBNET.
clashes_with_machine() {
  local dst
  for dst in $(ip -4 route show table all 2>/dev/null | awk '$1 ~ /^[0-9]/ {print $1}'); do
    site::overlaps "$1" "$dst" && return 0
  done
  return 1
}

# create_network: create the --internal network on the first free /24 of
# 10.210.0.0/16, starting at one derived from the name. Docker refuses a
# subnet that overlaps one of its networks; the machine's routes are checked
# here. Both refusals move on to the next candidate.
create_network() {
  local start i octet subnet out
  start=$((16#$(printf '%s' "$name" | sha256sum | cut -c1-2)))
  for ((i = 0; i < 256; i++)); do
    octet=$(((start + i) % 256))
    subnet="10.210.$octet.0/24"
    clashes_with_machine "$subnet" && continue
    if out=$(docker network create --driver bridge --internal \
      --subnet "$subnet" --gateway "10.210.$octet.1" \
      --label "appliance.site=$name" "$network" 2>&1); then
      return 0
    fi
    case $out in
    *overlap*) continue ;;
    *) site::die "docker network create $network: $out" ;;
    esac
  done
  site::die "no free /24 in 10.210.0.0/16 for site $name; remove unused sites (scripts/site/down.sh NAME)"
}

network_subnet() {
  docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$network"
}

# allow_multicast: add site::multicast_rule and site::pod_rule for this
# site's bridge, once each.
allow_multicast() {
  local rule
  rule=$(site::pod_rule "$(site::bridge "$name")")
  # shellcheck disable=SC2086
  command -v iptables >/dev/null 2>&1 && { iptables -C $rule 2>/dev/null || iptables -I $rule 2>/dev/null ||
    site::log "warning: could not add iptables rule $rule; pods cannot reach pods on other hosts"; }
  rule=$(site::multicast_rule "$(site::bridge "$name")")
  if ! command -v iptables >/dev/null 2>&1; then
    site::log "warning: no iptables; VRRP multicast cannot cross the site (keepalived needs unicast_peer)"
    return 0
  fi
  # shellcheck disable=SC2086
  iptables -C $rule 2>/dev/null || iptables -I $rule 2>/dev/null ||
    site::log "warning: could not add iptables rule $rule; VRRP multicast cannot cross the site"
}

# ---- keys -------------------------------------------------------------------

make_keys() {
  site::need ssh-keygen openssh-client
  if [ ! -s "$state/id_ed25519" ]; then
    rm -f "$state/id_ed25519" "$state/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C "appliance-site-$name" -f "$state/id_ed25519"
  fi
  if [ ! -s "$state/admin_password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$state/admin_password")
  fi
  mkdir -p "$state/hostfiles"
  chmod 0755 "$state/hostfiles"
  install -m 0644 "$state/id_ed25519.pub" "$state/hostfiles/authorized_keys"
  install -m 0600 "$state/admin_password" "$state/hostfiles/admin_password"
}

# ---- containers -------------------------------------------------------------

# config_hash: what a running site must match to be kept.
config_hash() {
  printf '%s\n' "$image" "$state" "$bin" "masters=$masters" "${mounts[@]}" | sha256sum | cut -c1-12
}

site_is_up() {
  docker network inspect "$network" >/dev/null 2>&1 || return 1
  [ "$(docker network inspect -f '{{.Internal}}' "$network")" = true ] || return 1
  local h host cfg
  for h in "${SITE_HOSTS[@]}"; do
    read -r host _ _ <<<"$h"
    cfg=$(docker inspect -f '{{if .State.Running}}{{index .Config.Labels "appliance.site.config"}}{{end}}' \
      "$(site::container "$name" "$host")" 2>/dev/null) || return 1
    [ "$cfg" = "$config" ] || return 1
  done
}

remove_site() {
  "$SITE_DIR/down.sh" "$name" >&2
}

# run_host HOST ROLE IP: start one host container.
run_host() {
  local host=$1 role=$2 ip=$3 args=() m
  args=(
    --detach --name "$(site::container "$name" "$host")" --hostname "$host"
    --network "$network" --ip "$ip"
    # all capabilities but the two the site must not use on the machine:
    # SYS_TIME (the clock is shared) and SYS_RESOURCE (absent in some
    # sandboxes, which is why --privileged is not used)
    --cap-add ALL --cap-drop SYS_TIME --cap-drop SYS_RESOURCE
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm'
    --cgroupns private --stop-signal SIGRTMIN+3
    --tmpfs /run --tmpfs /run/lock
    # containerd's snapshots need a real file system, not the image's
    # fuse-overlayfs: an anonymous volume, removed by down.sh
    --volume /var/lib/containerd
    # kubelet and etcd want real file systems too, and kubelet /dev/kmsg
    --volume /var/lib/kubelet --volume /var/lib/etcd
    --volume /dev/kmsg:/dev/kmsg
    --volume "$state/hostfiles:/etc/appliance-site:ro"
    --env "SITE_ROLE=$role" --env "SITE_SUBNET=$subnet"
    --label "appliance.site=$name" --label "appliance.site.host=$host"
    --label "appliance.site.config=$config"
  )
  [ -d "/lib/modules/$(uname -r)" ] && args+=(--volume /lib/modules:/lib/modules:ro)
  if [ "$role" = deploy ]; then
    args+=(--volume "$state:$state" --volume "$bin:/opt/appliance/bin:ro")
    for m in "${mounts[@]}"; do
      args+=(--volume "${m%%:*}:${m#*:}:ro")
    done
  fi
  docker run "${args[@]}" "$image" >/dev/null
}

# start_site: create the network, then start the hosts in parallel.
start_site() {
  local h host role octet pids=() pid failed=0
  create_network
  subnet=$(network_subnet)
  for h in "${SITE_HOSTS[@]}"; do
    read -r host role octet <<<"$h"
    run_host "$host" "$role" "$(host_ip "$octet")" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
  done
  [ $failed = 0 ] || site::die "could not start the hosts of site $name (docker run failed; see above)"
}

host_ip() { echo "${subnet%.*/*}.$1"; }

# wait_ready: every host's sshd is active (which needs its host keys).
wait_ready() {
  local h host c deadline=$((SECONDS + ${SITE_BOOT_TIMEOUT:-120}))
  for h in "${SITE_HOSTS[@]}"; do
    read -r host _ _ <<<"$h"
    c=$(site::container "$name" "$host")
    until [ "$(docker exec "$c" systemctl is-active ssh.service 2>/dev/null)" = active ]; do
      if [ "$(docker inspect -f '{{.State.Running}}' "$c")" != true ] || [ $SECONDS -ge $deadline ]; then
        docker logs --tail 30 "$c" >&2 || true
        site::die "host $host ($c) did not start sshd; see its log above (docker exec $c journalctl -b)"
      fi
      sleep 0.5
    done
  done
}

# ---- checks and state files -------------------------------------------------

# check_air_gap: the network is --internal (Docker drops what leaves it) and
# no host has a default route, a name server or a second network. Nothing
# outside the site is probed.
check_air_gap() {
  local h host c n
  [ "$(docker network inspect -f '{{.Internal}}' "$network")" = true ] ||
    site::die "air gap: network $network is not --internal"
  for h in "${SITE_HOSTS[@]}"; do
    read -r host _ _ <<<"$h"
    c=$(site::container "$name" "$host")
    n=$(docker inspect -f '{{len .NetworkSettings.Networks}}' "$c")
    [ "$n" = 1 ] || site::die "air gap: $c is on $n networks, want only $network"
    [ -z "$(docker exec "$c" ip -4 route show default)" ] ||
      site::die "air gap: $host has an IPv4 default route: $(docker exec "$c" ip -4 route show default)"
    [ -z "$(docker exec "$c" ip -6 route show default 2>/dev/null)" ] ||
      site::die "air gap: $host has an IPv6 default route"
    if docker exec "$c" grep -q '^nameserver' /etc/resolv.conf; then
      site::die "air gap: $host has a name server in /etc/resolv.conf"
    fi
  done
}

# write_atomic FILE: stdin to FILE through a temporary file and a rename.
write_atomic() {
  cat >"$1.tmp"
  mv -f "$1.tmp" "$1"
}

write_known_hosts() {
  local h host octet c
  for h in "${SITE_HOSTS[@]}"; do
    read -r host _ octet <<<"$h"
    c=$(site::container "$name" "$host")
    docker exec "$c" sh -c 'cat /etc/ssh/ssh_host_*_key.pub' |
      awk -v names="$host,$(host_ip "$octet")" '{print names, $1, $2}'
  done | write_atomic "$state/known_hosts"
}

write_inventory() {
  local deploy_ip h host role octet apiserver
  deploy_ip=$(host_ip 10)
  # A VIP moves between masters; one master is reached at its own address
  # (deploy refuses apiserver.vip with a single master).
  apiserver="{vip: $(host_ip "$SITE_VIP_OCTET"), port: 6443, interface: eth0}"
  [ "$masters" -gt 1 ] || apiserver="{port: 6443}"
  write_atomic "$state/inventory.yaml" <<EOF
# Written by scripts/site/up.sh for the air-gapped test site "$name".
apiVersion: appliance/v1
kind: Inventory
site: $name
ssh: {user: root, keyFile: $state/id_ed25519, knownHosts: $state/known_hosts}
hosts:
$(for h in "${SITE_HOSTS[@]}"; do
    read -r host role octet <<<"$h"
    [ "$host" != "$registry_host" ] || role="$role, registry"
    [ "$role" = deploy ] || echo "  - {name: $host, address: $(host_ip "$octet"), roles: [$role]}"
  done)
deployNode: {address: $deploy_ip}
apiserver: $apiserver
network: {podCIDR: 10.244.0.0/16, serviceCIDR: 10.96.0.0/12}
ntp: [$deploy_ip]
harbor: {hostname: harbor.site.test}
# systemd in these containers does not own the cgroup tree (cgroup v1 here)
kubernetes: {cgroupDriver: cgroupfs}
EOF
}

write_site_json() {
  local h host role octet sep=""
  {
    printf '{\n  "name": "%s",\n  "network": "%s",\n  "subnet": "%s",\n' "$name" "$network" "$subnet"
    printf '  "gateway": "%s",\n  "vip": "%s",\n' "$(host_ip 1)" "$(host_ip "$SITE_VIP_OCTET")"
    printf '  "image": "%s",\n  "stateDir": "%s",\n  "hosts": [' "$image" "$state"
    for h in "${SITE_HOSTS[@]}"; do
      read -r host role octet <<<"$h"
      printf '%s\n    {"name": "%s", "role": "%s", "address": "%s", "container": "%s"}' \
        "$sep" "$host" "$role" "$(host_ip "$octet")" "$(site::container "$name" "$host")"
      sep=,
    done
    printf '\n  ]\n}\n'
  } | write_atomic "$state/site.json"
}

# ---- main -------------------------------------------------------------------

main() {
  parse_args "$@"
  site::need docker docker.io
  site::need flock util-linux
  local start=$SECONDS
  state=$(site::state_dir "$name" "$state_arg")
  network=$(site::network "$name")
  exec 8>"$state/.lock"
  flock 8
  [ -n "$image" ] || image=$("$SITE_DIR/build-image.sh")
  mkdir -p "$bin"
  bin=$(cd "$bin" && pwd)
  config=$(config_hash)
  make_keys
  if site_is_up; then
    subnet=$(network_subnet)
    site::log "site $name is already up on $subnet"
  else
    remove_site
    start_site
  fi
  allow_multicast
  wait_ready
  check_air_gap
  write_known_hosts
  write_inventory
  write_site_json
  site::log "site $name up on $subnet in $((SECONDS - start))s (state: $state)"
  echo "$state"
}

main "$@"
