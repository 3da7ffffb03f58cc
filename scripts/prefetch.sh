#!/usr/bin/env bash
# prefetch.sh: starts, in the background, the two long builds the site test
# needs, so that their downloads and the first minutes of their work overlap
# the unit, race and fuzz tests of make test:
#
#   - scripts/k8s/build.sh          Kubernetes v1.26.15 (+ kubeadm v1.34.4) from source (cold ~20 min)
#   - scripts/site/build-image.sh   the test site's host image (cold ~5 min)
#
# It returns at once. Both builds are nice'd (the tests come first) and
# write their logs to $OUT/prefetch/ (default out/prefetch/). Both scripts
# hold a lock on their cache, so when scripts/site-test.sh calls them again
# it waits for the running build and then reuses what it made; a build that
# failed in the background is simply run again there, in the foreground,
# where its error shows. PREFETCH=0 turns this off.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${PREFETCH:-1}" = 0 ] && exit 0
OUT=${OUT:-out}
mkdir -p "$OUT/prefetch"
command -v docker >/dev/null || { echo "prefetch: no docker; the site test will say what it needs" >&2; exit 0; }
start() {
  local name=$1
  shift
  setsid nohup nice -n 10 "$@" >"$OUT/prefetch/$name.log" 2>&1 </dev/null &
  echo "prefetch: $name started in the background (log $OUT/prefetch/$name.log)"
}
start k8s bash scripts/k8s/build.sh
start site-image bash scripts/site/build-image.sh
