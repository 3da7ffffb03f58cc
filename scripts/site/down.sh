#!/usr/bin/env bash
# down.sh: removes a test site's containers (with their volumes) and network.
#
#   scripts/site/down.sh NAME [--state DIR] [--purge]
#
# Finds the containers by their appliance.site=NAME label, so it needs no
# state and also cleans up after a half-finished up.sh. Keeps the state
# directory (SSH key, inventory) unless --purge. Idempotent: removing a site
# that is not there succeeds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

site::help "$0" "$@"
[ $# -ge 1 ] || { echo "usage: down.sh NAME [--state DIR] [--purge]" >&2; exit 2; }
name=$1
shift
state_arg="" purge=false
while [ $# -gt 0 ]; do
  case $1 in
  --state) state_arg=${2:?--state needs a directory}; shift 2 ;;
  --purge) purge=true; shift ;;
  *) echo "usage: down.sh NAME [--state DIR] [--purge]" >&2; exit 2 ;;
  esac
done
site::validate_name "$name"
site::need docker docker.io

mapfile -t ids < <(docker ps -aq --filter "label=appliance.site=$name")
if [ ${#ids[@]} -gt 0 ]; then
  docker rm --force --volumes "${ids[@]}" >/dev/null
fi
network=$(site::network "$name")
bridge=$(site::bridge "$name")
if [ -n "$bridge" ] && command -v iptables >/dev/null 2>&1; then
  for rule in "$(site::multicast_rule "$bridge")" "$(site::pod_rule "$bridge")"; do
    # shellcheck disable=SC2086
    while iptables -C $rule 2>/dev/null; do iptables -D $rule; done
  done
fi
if docker network inspect "$network" >/dev/null 2>&1; then
  docker network rm "$network" >/dev/null
fi
if $purge; then
  dir=${state_arg:-${SITE_STATE:-$REPO_DIR/out/site/$name}}
  rm -rf "$dir"
fi
site::log "site $name is down"
