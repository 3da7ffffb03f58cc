#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time (default 15s each).
# A crash fails the run; Go saves the failing input under the package's
# testdata/fuzz/, where it becomes a regression test for `go test`.
# New interesting inputs are minimised for at most 100 runs, so that on a
# loaded machine the time goes to fuzzing rather than to shrinking inputs.
set -euo pipefail
fuzztime=${1:-15s}
cd "$(dirname "$0")/.."
status=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    echo "fuzz: $pkg $t ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" -fuzzminimizetime=100x "$pkg"; then
      echo "fuzz: $pkg $t FAILED (the failing input is under testdata/fuzz/$t)"
      status=1
    fi
  done
done
exit $status
