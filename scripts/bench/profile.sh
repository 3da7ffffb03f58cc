#!/usr/bin/env bash
# scripts/bench/profile.sh: CPU, block and mutex profiles (pprof) of a cold
# `bundle build`, of `deploy serve` under the seed bench's load (8
# bench-pull clients) and of `deploy push` into a fresh docker-registry
# (with the CPU the registry spent taking the blobs), on make bench's data,
# through APPLIANCE_PPROF (internal/benchx). Needs bin/ (make build) and
# make bench's tools.
#
#   bash scripts/bench/profile.sh            # profiles in out/bench/prof
#   go tool pprof -top bin/deploy out/bench/prof/deploy-serve-cpu.pprof
#
# Environment: BENCH_OUT (out/bench), PROF_PULLS (2: bench-pull passes
# against deploy serve), and make bench's BENCH_IMAGES and BENCH_BYTES.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=1
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
bench_begin prof
PROF=$OUT/prof
build_tools
note "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
start_fixture_registry
make_stack

step "bundle build, cold, profiled"
rm -rf "$OUT/cache" "$OUT/prof.bundle"
APPLIANCE_PPROF=$PROF must_time prof-build bin/bundle build -f "$STACK" -o "$OUT/prof.bundle" --unsigned \
	--cache-dir "$OUT/cache" --quiet
note "$(wall prof-build) s wall, $(cpu prof-build) s CPU"
rm -rf "$OUT/cache"

step "deploy serve under ${PROF_PULLS:-2} passes of bench-pull --clients $CLIENTS, profiled"
port=$(free_port 5600)
APPLIANCE_PPROF=$PROF bin/deploy serve --bundle "$OUT/prof.bundle" --plain-http --insecure-skip-verify \
	--addr "127.0.0.1:$port" --state-dir "$OUT/prof-state" >"$OUT/logs/prof-serve.log" 2>&1 &
serve=$!
track "$serve"
mapfile -t refs < <(printf "$MIRROR_NAME/%s\n" "${REFS[@]}")
bin/bench-pull --registry "http://127.0.0.1:$port" --first --since-unix-nano "$(date +%s%N)" --timeout 120s "${refs[0]}" >/dev/null
for i in $(seq 1 "${PROF_PULLS:-2}"); do
	bin/bench-pull --registry "http://127.0.0.1:$port" --clients "$CLIENTS" "${refs[@]}" | tail -1
done
stop_pid "$serve" # SIGTERM: serve stops and writes its profiles

step "deploy push into a fresh docker-registry, profiled"
debug=127.0.0.1:$(free_port 5700)
REGISTRY_DEBUG_ADDR=$debug start_registry prof-push
# The registry's own CPU profile, over the push's first PROF_REGISTRY_SECONDS
# (docker-registry serves net/http/pprof on its debug address).
curl -fsS -o "$PROF/registry-push-cpu.pprof" "http://$debug/debug/pprof/profile?seconds=${PROF_REGISTRY_SECONDS:-8}" &
reg_prof=$!
APPLIANCE_PPROF=$PROF must_time prof-push bin/deploy push --bundle "$OUT/prof.bundle" --to "$TARGET_ADDR" \
	--plain-http --insecure-skip-verify --no-harbor --json
wait "$reg_prof" || note "no CPU profile from the registry"
# utime and stime of the registry, in clock ticks (fields 14 and 15)
reg_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$TARGET_PID/stat")
stop_registry prof-push
note "deploy push: $(wall prof-push) s wall, $(cpu prof-push) s CPU; the registry taking it: $reg_cpu s CPU"
rm -f "$OUT/prof.bundle"
ls -l "$PROF"
for p in bundle-build deploy-serve deploy-push; do
	bin=bin/${p%%-*}
	step "$p: top of the CPU profile"
	go tool pprof -top -nodecount=25 "$bin" "$PROF/$p-cpu.pprof" 2>/dev/null | sed -n '4,32p'
done
if [ -s "$PROF/registry-push-cpu.pprof" ]; then
	step "docker-registry taking the push: top of the CPU profile"
	go tool pprof -top -nodecount=30 "$PROF/registry-push-cpu.pprof" 2>/dev/null | sed -n '4,37p'
fi
