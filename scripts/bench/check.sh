#!/usr/bin/env bash
# make bench-check: a fresh `make bench` compared with the recorded results
# (docs/bench-recorded.md, written by make bench-record). Exits non-zero,
# naming the row, when a target is missed, a sub-bench broke, or a ratio is
# more than 15% worse than recorded (internal/benchx). Not part of make test:
# on a noisy machine its figures mean little.
#
# Environment: BENCH_FRESH=FILE compares FILE instead of running the bench;
# BENCH_RECORDED (docs/bench-recorded.md); BENCH_TOLERANCE (0.15); the
# bench's own knobs (BENCH_RUNS, BENCH_OUT, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
RECORDED=${BENCH_RECORDED:-docs/bench-recorded.md}
OUT=${BENCH_OUT:-out/bench}
[ -f "$RECORDED" ] || { echo "bench-check: $RECORDED missing: run make bench, then make bench-record" >&2; exit 2; }
FRESH=${BENCH_FRESH:-}
if [ -z "$FRESH" ]; then
	rc=0
	bash scripts/bench.sh || rc=$?
	FRESH="$OUT/last.md"
	[ "$rc" = 0 ] || echo "bench-check: scripts/bench.sh exited $rc (a sub-bench broke); comparing what it wrote" >&2
fi
go build -o bin/bench-check ./internal/cmd/bench-check
bin/bench-check --tolerance "${BENCH_TOLERANCE:-0.15}" "$RECORDED" "$FRESH"
