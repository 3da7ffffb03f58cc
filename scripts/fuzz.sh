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
# The targets are found in the test sources (func FuzzX(f *testing.F)), not
# with go test -list, which would link a test binary of every package.
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' "$pkg"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/' | sort -u)
  for t in $targets; do
    echo "fuzz: $pkg $t ($fuzztime)"
    if ! go test -run='^$' -fuzz="^${t}\$" -fuzztime="$fuzztime" -fuzzminimizetime=100x "$pkg"; then
      echo "fuzz: $pkg $t FAILED (the failing input is under testdata/fuzz/$t)"
      status=1
    fi
  done
done
exit $status
