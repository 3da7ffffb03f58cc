#!/usr/bin/env bash
# first-app-test.sh: runs docs/first-app.md literally: every ```sh block of
# the page, in order, in one bash (set -euo pipefail, traced), in a fresh
# directory, with APPLIANCE set to this repository. make test runs it
# after the site test (scripts/site-test.sh), when the Kubernetes build and
# the site's host image are cached. The site it brings up is removed
# whatever happens; KEEP_SITE=1 keeps it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
doc=$repo/docs/first-app.md
work=$(mktemp -d)
script=$work/first-app.sh
awk '/^```sh$/ {on = 1; next} /^```/ {on = 0; next} on' "$doc" >"$script"
[ -s "$script" ] || { echo "first-app-test: no sh blocks in $doc" >&2; exit 1; }
cleanup() {
  if [ "${KEEP_SITE:-0}" != 1 ]; then
    bash "$repo/scripts/site/down.sh" myapp >/dev/null 2>&1 || true
  fi
  [ -f "$work/myapp/registry/pid" ] && kill "$(cat "$work/myapp/registry/pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start=$SECONDS
mkdir -p "$repo/out"
echo "first-app-test: running the $(grep -c '^```sh$' "$doc") sh blocks of docs/first-app.md in $work"
(cd "$work" && APPLIANCE=$repo bash -euo pipefail -x "$script") >"$repo/out/first-app-test.log" 2>&1 || {
  tail -n 60 "$repo/out/first-app-test.log" >&2
  echo "first-app-test: FAILED after $((SECONDS - start)) s; the whole trace is in out/first-app-test.log" >&2
  exit 1
}
grep -h 'hello from' "$work/myapp/answer.txt"
echo "first-app-test: docs/first-app.md passed in $((SECONDS - start)) s"
