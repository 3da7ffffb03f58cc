#!/usr/bin/env bash
# make bench: our tools against the peers', side by side, in one run.
#
#  1. bundle build (issue 2): a cold `bundle build` of a stack of BENCH_IMAGES
#     images (BENCH_BYTES of incompressible layers) plus BENCH_FILES_MIB of
#     text files, against `crane pull --format=oci` + `tar | zstd -T0` of the
#     same content. Wall time, peak RSS, bytes stored.
#  2. repodata (issue 3): scripts/rpm-fixtures/bench.sh, ours vs createrepo_c.
#  3. seed (issue 6): pull throughput of `deploy serve` vs docker-registry with
#     8 clients, time from start to the first pull, and `deploy push` vs
#     `crane copy` into a fresh docker-registry.
#
# Each pair runs BENCH_RUNS times (default 3), interleaved (ours, peer, peer,
# ours, ...), and the median is reported. The page cache cannot be dropped
# here, so the registry storage is read once first and both sides start from
# the same warm source; `sync` runs (untimed) before every timed command so
# neither side pays for the other's dirty pages.
#
# Environment: BENCH_RUNS (3), BENCH_BIG=1 (4 GiB of layers instead of 2),
# BENCH_IMAGES (24), BENCH_BYTES (2GiB), BENCH_FILES_MIB (64),
# BENCH_CRANE_PULL (all: one crane invocation with every ref; each: one per
# image), BENCH_OUT (out/bench; the registry storage is kept there between
# runs, everything else is rewritten), BENCH_PARTS ("build seed repodata";
# seed needs build's bundle).
#
# It prints a table (metric, ours, peer, ratio, target, PASS/MISS) and writes
# it as markdown, with the commit, the date and the load, to
# $OUT/results-COMMIT.md and $OUT/last.md (make bench-check compares that with
# docs/bench-recorded.md). It exits 0 even when a target is missed; it exits
# non-zero only when something broke.
set -euo pipefail
cd "$(dirname "$0")/.."
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$PATH"

RUNS=${BENCH_RUNS:-3}
CRANE_PULL=${BENCH_CRANE_PULL:-all}
PARTS=${BENCH_PARTS:-build seed repodata}

# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh # IMAGES, BYTES, FILES_MIB, CLIENTS, OUT, MIRROR_NAME

bench_begin
rm -f "$OUT/notes.log"
BROKE=0

check_tools
build_tools
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
note "load average at start: $LOAD_START ($(nproc) CPUs)"

step "fixture registry: $IMAGES images, $BYTES of layers"
start_fixture_registry # sets REG_ADDR, REG_STORAGE, REFS (repo:tag)
make_stack             # sets STACK, STACK_DIR, FILES_BYTES

step "warm-up: read the registry storage and the files once"
find "$REG_STORAGE" "$STACK_DIR/files" -type f -exec cat {} + >/dev/null

# shellcheck source=scripts/bench/build.sh
source scripts/bench/build.sh
# shellcheck source=scripts/bench/seed.sh
source scripts/bench/seed.sh
# shellcheck source=scripts/bench/repodata.sh
source scripts/bench/repodata.sh

for part in $PARTS; do
	case $part in
	build | seed | repodata) "bench_$part" ;;
	*) die "BENCH_PARTS: unknown part $part (build, seed, repodata)" ;;
	esac
done

note "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
print_table
RESULTS="$OUT/results-$(commit_id).md"
write_results "$RESULTS" "$LOAD_START"
cp "$RESULTS" "$OUT/last.md"
note "results: $RESULTS (and $OUT/last.md)"
exit "$BROKE"
