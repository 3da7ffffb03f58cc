#!/usr/bin/env bash
# build-image.sh: builds the test-site host image and prints its tag.
#
#   scripts/site/build-image.sh            # prints appliance-site-host:<hash>
#
# The image is built without any image registry:
#   1. debootstrap --variant=minbase bootstraps packages.txt from the Debian
#      mirror that the machine's own apt sources name (read now, written
#      nowhere); the root filesystem is cached as a tar.zst keyed by suite,
#      architecture and package list;
#   2. `docker import` turns that tarball into appliance-site-base:<key>;
#   3. customize.sh runs in a container of the base image (no network) and
#      `docker commit` makes appliance-site-host:<hash>.
# <hash> covers these scripts, packages.txt and rootfs/, so any change to
# them builds a new image; an unchanged tree reuses the image in a second.
# Safe to run concurrently: builds are serialized by a lock in the cache.
#
# Environment: APPLIANCE_SITE_CACHE (default ~/.cache/appliance-site),
# SITE_SUITE (default: the machine's codename), SITE_MIRROR (default: from
# the machine's apt sources).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
site::help "$0" "$@"

# Bump when the bootstrap recipe in bootstrap_rootfs changes.
BASE_RECIPE=1

cache=${APPLIANCE_SITE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appliance-site}

base_key() {
  {
    echo "recipe=$BASE_RECIPE suite=$suite arch=$arch variant=minbase"
    site::packages
  } | sha256sum | cut -c1-12
}

image_key() {
  local files
  mapfile -t files < <(find "$SITE_DIR/rootfs" -type f | LC_ALL=C sort)
  {
    echo "base=$1"
    site::hash "$SITE_DIR/build-image.sh" "$SITE_DIR/lib.sh" "$SITE_DIR/customize.sh" \
      "$SITE_DIR/packages.txt" "${files[@]}"
  } | sha256sum | cut -c1-12
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# bootstrap_rootfs TARBALL: debootstrap into a scratch directory, then pack
# it as TARBALL (written to a temporary name and renamed, so a cache entry
# is never half-written).
bootstrap_rootfs() {
  local tarball=$1 mirror dir logf pkgs start
  mirror=$(site::mirror "$suite")
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  logf="$cache/debootstrap.log"
  pkgs=$(site::packages | paste -sd, -)
  start=$SECONDS
  site::log "debootstrap $suite ($arch, minbase + $(site::packages | wc -l) packages); log: $logf"
  if ! debootstrap --variant=minbase --arch="$arch" --components=main --include="$pkgs" \
    "$suite" "$dir" "$mirror" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2
    rm -rf "$dir"
    site::die "debootstrap failed (full log: $logf)"
  fi
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
    "$dir"/etc/apt/sources.list "$dir"/var/log/bootstrap.log
  tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$dir" -cf - . |
    zstd -q -T0 -3 -o "$tarball.tmp"
  mv -f "$tarball.tmp" "$tarball"
  rm -rf "$dir"
  site::log "bootstrapped in $((SECONDS - start))s: $tarball"
}

ensure_base() {
  local base=$1 key=$2 tarball="$cache/rootfs-$2.tar.zst" start
  have_image "$base" && return
  [ -s "$tarball" ] || bootstrap_rootfs "$tarball"
  start=$SECONDS
  zstd -q -dc "$tarball" | docker import --message "appliance test-site base $key" - "$base" >/dev/null
  site::log "imported $base in $((SECONDS - start))s"
}

customize() {
  local base=$1 tag=$2 start=$SECONDS
  build_container="appliance-site-build-$$"
  trap 'docker rm -f "$build_container" >/dev/null 2>&1 || true' EXIT
  docker run --name "$build_container" --network none -v "$SITE_DIR:/site-src:ro" \
    --entrypoint /bin/bash "$base" /site-src/customize.sh >&2 ||
    site::die "customize.sh failed in $base"
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/sbin/site-init"]' \
    --change 'CMD []' \
    --change 'ENV container=docker' \
    --change "LABEL appliance.site.image=${tag#*:}" \
    "$build_container" "$tag" >/dev/null
  site::log "built $tag in $((SECONDS - start))s"
}

# prune_old TAG: remove other tags of the host image that no container uses.
prune_old() {
  local t
  for t in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$SITE_IMAGE_REPO"); do
    [ "$t" = "$1" ] || docker image rm "$t" >/dev/null 2>&1 || true
  done
}

main() {
  site::need docker docker.io
  site::need debootstrap debootstrap
  site::need zstd zstd
  site::need flock util-linux
  suite=$(site::suite)
  arch=$(dpkg --print-architecture)
  local bkey ikey base tag
  bkey=$(base_key)
  ikey=$(image_key "$bkey")
  base="$SITE_BASE_REPO:$bkey"
  tag="$SITE_IMAGE_REPO:$ikey"
  if ! have_image "$tag"; then
    mkdir -p "$cache"
    exec 9>"$cache/build.lock"
    flock 9
    if ! have_image "$tag"; then
      ensure_base "$base" "$bkey"
      customize "$base" "$tag"
      prune_old "$tag"
    fi
    exec 9>&-
  fi
  echo "$tag"
}

main "$@"
