#!/usr/bin/env bash
# scripts/bench/push-timeline.sh: where the push bench's wall time goes.
# Pushes make bench's bundle into a fresh docker-registry (deploy push, and
# crane copy with PEER=1) while sampling, every 100 ms, the CPU of the
# pushing process tree, of the receiving registry and of the whole machine,
# and prints a timeline in 0.5 s buckets plus the totals: on 2 cores the
# wall time cannot fall below (registry + client CPU) / 2, and the idle
# core-seconds show how far a run is from that floor. Run it on a quiet
# machine; needs bin/ (make build) and make bench's tools.
#
#   bash scripts/bench/push-timeline.sh            # 2 runs of deploy push
#   RUNS=3 PEER=1 bash scripts/bench/push-timeline.sh
#
# Environment: RUNS (2), PEER (0), BENCH_OUT (out/bench), make bench's
# BENCH_IMAGES and BENCH_BYTES.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-2}
# shellcheck source=scripts/bench/lib.sh
source scripts/bench/lib.sh
bench_begin
build_tools
start_fixture_registry
make_stack
BUNDLE=$OUT/timeline.bundle
# Kept between runs, rebuilt when bin/bundle is newer (a bundle from an
# older build would time an older format).
if [ ! -s "$BUNDLE" ] || [ bin/bundle -nt "$BUNDLE" ]; then
	step "build the bench bundle"
	bin/bundle build -f "$STACK" -o "$BUNDLE" --unsigned --cache-dir "$OUT/timeline-cache" --quiet
	rm -rf "$OUT/timeline-cache"
fi

# cpu_of PID...: utime+stime in clock ticks of each PID and its children
# that have been waited for (fields 14-17 of /proc/PID/stat).
cpu_of() {
	local t=0 p f
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		read -r f <"/proc/$p/stat" || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		t=$((t + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$t"
}

# sample CLIENT_PID REGISTRY_PID FILE: one line per 100 ms until the client
# ends: seconds, client ticks, registry ticks, machine busy ticks. The
# client's children count only once they have ended (crane copy's).
sample() {
	local client=$1 reg=$2 file=$3 line busy
	: >"$file"
	while kill -0 "$client" 2>/dev/null; do
		read -r line </proc/stat
		# shellcheck disable=SC2086
		set -- $line
		busy=$(($2 + $3 + $4 + $7 + $8 + $9))
		printf '%s %s %s %s\n' "$EPOCHREALTIME" "$(cpu_of "$client")" "$(cpu_of "$reg")" "$busy" >>"$file"
		sleep 0.1
	done
}

report() {
	awk -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" '
		NR == 1 { t0 = $1; c0 = $2; r0 = $3; b0 = $4; next }
		{
			b = int(($1 - t0) / 0.5)
			tt[b] = $1; cc[b] = $2; rr[b] = $3; bb[b] = $4; last = b; t = $1; c = $2; r = $3; m = $4
		}
		END {
			pt = t0; pc = c0; pr = r0; pb = b0
			printf "    %6s %8s %8s %8s\n", "t (s)", "client", "registry", "machine"
			for (i = 0; i <= last; i++) {
				if (!(i in cc) || tt[i] <= pt) continue
				d = (tt[i] - pt) * hz
				printf "    %6.1f %7.0f%% %7.0f%% %7.0f%%\n", i * 0.5,
					(cc[i] - pc) / d * 100, (rr[i] - pr) / d * 100, (bb[i] - pb) / d / cores * 100
				pt = tt[i]; pc = cc[i]; pr = rr[i]; pb = bb[i]
			}
			w = t - t0; ct = (c - c0) / hz; rt = (r - r0) / hz; mt = (m - b0) / hz
			printf "    wall %.2f s; client %.2f s CPU, registry %.2f s CPU, machine %.2f core-s busy of %.2f\n", w, ct, rt, mt, w * cores
			printf "    floor (client + registry) / %d = %.2f s; idle core-seconds %.2f\n", cores, (ct + rt) / cores, w * cores - mt
		}' "$1"
}

run() {
	local who=$1 r=$2 client
	start_registry "timeline-$who"
	case $who in
	ours)
		bin/deploy push --bundle "$BUNDLE" --to "$TARGET_ADDR" --plain-http --insecure-skip-verify --no-harbor --json >/dev/null &
		;;
	peer)
		printf '%s\n' "${REFS[@]}" | xargs -P 4 -I{} crane copy "$REG_ADDR/{}" "$TARGET_ADDR/$MIRROR_NAME/{}" 2>/dev/null &
		;;
	esac
	client=$!
	sample "$client" "$TARGET_PID" "$OUT/timeline-$who-$r.samples"
	wait "$client" || die "$who push failed in run $r"
	sync -f "$OUT/timeline-$who" # both sides, not sampled: 6 ms here, the registry writes back as it goes
	stop_registry "timeline-$who"
	step "$who, run $r"
	report "$OUT/timeline-$who-$r.samples"
}

note "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
for r in $(seq 1 "$RUNS"); do
	run ours "$r"
	[ "${PEER:-0}" = 1 ] && run peer "$r"
done
