#!/usr/bin/env bash
# scripts/bench/site.sh (make bench-site): where a deploy's time went, from
# the journals the Kubernetes site tests keep when run as the deploy-side
# benchmark. It never runs the site test itself (only the lead runs it, see
# docs/bench.md):
#
#   APPLIANCE_SITE_TIMES=$PWD/out/site-times SITE_TEST_RUN='TestKubernetes' make site-test
#   bash scripts/bench/site.sh [DIR ...]     # default: out/site-times/ha out/site-times/one-master
#
# Any deploy state directory (deploy --state-dir) works as DIR, for a run
# made by hand. Prints, per directory, bin/bench-site's markdown tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o bin/bench-site ./internal/cmd/bench-site
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(out/site-times/ha out/site-times/one-master)
rc=0
for d in "${dirs[@]}"; do
	printf '\n## %s\n\n' "$d"
	bin/bench-site "$d" || rc=1
done
exit "$rc"
