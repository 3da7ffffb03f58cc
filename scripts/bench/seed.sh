# shellcheck shell=bash disable=SC2034,SC2153
# (SC2034/SC2153: the variables are shared with scripts/bench.sh and its other parts.)
# bench_seed (issue 6): `deploy serve` against docker-registry (pull
# throughput with $CLIENTS clients, and the time from start to the first
# pull), and `deploy push` against crane copy into a fresh docker-registry.
# Sourced by scripts/bench.sh; uses $BUNDLE from bench_build.

bench_seed() {
	bench_serve
	bench_push
}

# serve_refs prints the images as `deploy serve` names them: by the
# reference as written in the manifest (under $MIRROR_NAME).
serve_refs() { printf "$MIRROR_NAME/%s\n" "${REFS[@]}"; }

# start_serve: starts deploy serve on $BUNDLE and waits for the first full
# pull of one image, measuring the time from the start. Sets SERVE_ADDR,
# SERVE_PID and FIRST_PULL; returns 1 (with SERVE_WHY) when serve exits or
# never serves.
start_serve() {
	local port t0 bp log="$OUT/logs/seed-serve.log" first
	port=$(free_port 5500)
	SERVE_ADDR=127.0.0.1:$port
	first=$(serve_refs | head -1)
	sync
	t0=$(date +%s%N)
	bin/deploy serve --bundle "$BUNDLE" --plain-http --insecure-skip-verify --addr "$SERVE_ADDR" \
		--state-dir "$OUT/seed-state" >"$log" 2>&1 &
	SERVE_PID=$!
	track "$SERVE_PID"
	bin/bench-pull --registry "http://$SERVE_ADDR" --first --since-unix-nano "$t0" --timeout 120s \
		"$first" >"$OUT/logs/seed-first-pull.log" 2>&1 &
	bp=$!
	while kill -0 "$bp" 2>/dev/null; do
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			stop_pid "$bp"
			SERVE_WHY=$(grep -v 'level=WARN' "$log" | tail -1)
			return 1
		fi
		sleep 0.05
	done
	if ! wait "$bp"; then
		SERVE_WHY="first pull failed: $(tail -1 "$OUT/logs/seed-first-pull.log")"
		stop_pid "$SERVE_PID"
		return 1
	fi
	FIRST_PULL=$(sed -n 's/^first_pull_seconds=//p' "$OUT/logs/seed-first-pull.log")
}

# pull_rate NAME ADDR REFS...: one bench-pull run; prints MB/s.
pull_rate() {
	local name=$1 addr=$2
	shift 2
	sync
	bin/bench-pull --registry "http://$addr" --clients "$CLIENTS" "$@" >"$OUT/logs/$name.log" 2>&1 ||
		return 1
	sed -n 's/.* mbps=//p' "$OUT/logs/$name.log"
}

bench_serve() {
	step "seed: deploy serve vs docker-registry, $CLIENTS clients fetching every blob of every image"
	if ! bin/deploy serve --help >/dev/null 2>&1; then
		note "deploy serve: not available (bin/deploy serve --help fails)"
		row "seed pull throughput (MB/s)" "n/a" "-" "-" ">= 1.0" "not available"
		row "seed start to first pull (s)" "n/a" "-" "-" "report" "not available"
		return 0
	fi
	if ! start_serve; then
		note "deploy serve: not available ($SERVE_WHY)"
		row "seed pull throughput (MB/s)" "n/a" "-" "-" ">= 1.0" "not available"
		row "seed start to first pull (s)" "n/a" "-" "-" "report" "not available"
		return 0
	fi
	local size_note="BENCH_BIG=1 for 4 GiB"
	[ "$BYTES" = 4GiB ] && size_note="4 GiB layers"
	note "first full pull of one image $FIRST_PULL s after deploy serve started ($(mib "$(stat -c %s "$BUNDLE")") MiB bundle)"
	row "seed start to first pull (s)" "$FIRST_PULL" "-" "-" "report ($size_note)" "INFO"
	local ours=() theirs=() r v mine=() reg=()
	mapfile -t mine < <(serve_refs)
	reg=("${REFS[@]}")
	for r in $(seq 1 "$RUNS"); do
		if [ $((r % 2)) = 1 ]; then
			v=$(pull_rate "seed-pull-ours-$r" "$SERVE_ADDR" "${mine[@]}") || { pull_broke ours "$r"; return 0; }
			ours+=("$v")
			v=$(pull_rate "seed-pull-registry-$r" "$REG_ADDR" "${reg[@]}") || { pull_broke registry "$r"; return 0; }
			theirs+=("$v")
		else
			v=$(pull_rate "seed-pull-registry-$r" "$REG_ADDR" "${reg[@]}") || { pull_broke registry "$r"; return 0; }
			theirs+=("$v")
			v=$(pull_rate "seed-pull-ours-$r" "$SERVE_ADDR" "${mine[@]}") || { pull_broke ours "$r"; return 0; }
			ours+=("$v")
		fi
		note "run $r: deploy serve ${ours[-1]} MB/s, docker-registry ${theirs[-1]} MB/s"
	done
	local hwm
	hwm=$(awk '/VmHWM/ { printf "%.1f\n", $2 / 1024 }' "/proc/$SERVE_PID/status" 2>/dev/null || echo "?")
	stop_pid "$SERVE_PID"
	local o t
	o=$(median "${ours[@]}")
	t=$(median "${theirs[@]}")
	row "seed pull throughput (MB/s)" "$o" "$t" "$(div "$o" "$t")" ">= 1.0" "$(verdict "$(div "$o" "$t")" ge 1.0)"
	row "seed serve peak RSS (MiB)" "$hwm" "-" "-" "< 300" "$(verdict "$hwm" lt 300)"
}

pull_broke() {
	note "pull from $1 failed in run $2: $(tail -1 "$OUT/logs/seed-pull-$1-$2.log")"
	row "seed pull throughput (MB/s)" "broken" "-" "-" ">= 1.0" "BROKEN"
	BROKE=1
	stop_pid "$SERVE_PID"
}

# Both pushes are timed until the target registry's storage is on disk
# (sync -f of its filesystem inside the timing): the registry does not
# fsync what it takes, and the push's output is that storage.

# ours_push RUN: deploy push of the bundle into a fresh docker-registry.
ours_push() {
	start_registry push-ours
	if ! timed "push-ours-$1" bash -c 'bin/deploy push --bundle "$1" --to "$2" --plain-http \
		--insecure-skip-verify --no-harbor --json && sync -f "$3"' _ "$BUNDLE" "$TARGET_ADDR" "$OUT/push-ours"; then
		note "deploy push failed in run $1: $(tail -1 "$OUT/logs/push-ours-$1.log")"
		stop_registry push-ours
		return 1
	fi
	stop_registry push-ours
	PUSH_OURS+=("$(wall "push-ours-$1")")
}

# peer_push RUN: crane copy of every image from the fixture registry into a
# fresh docker-registry, four images at a time (deploy push's default image
# concurrency; crane parallelises the layers of each image itself).
peer_push() {
	start_registry push-peer
	if ! printf '%s\n' "${REFS[@]}" | timed "push-peer-$1" bash -c 'xargs -P 4 -I{} \
		crane copy "$1/{}" "$2/$3/{}" && sync -f "$4"' _ "$REG_ADDR" "$TARGET_ADDR" "$MIRROR_NAME" "$OUT/push-peer"; then
		stop_registry push-peer
		die "crane copy failed in run $1 (log: $OUT/logs/push-peer-$1.log)"
	fi
	stop_registry push-peer
	PUSH_PEER+=("$(wall "push-peer-$1")")
}

bench_push() {
	step "seed: deploy push vs crane copy into a fresh docker-registry"
	if ! bin/deploy push --help >/dev/null 2>&1; then
		note "deploy push: not available (bin/deploy push --help fails)"
		row "push into a fresh registry (s)" "n/a" "-" "-" "<= 0.5" "not available"
		return 0
	fi
	PUSH_OURS=() PUSH_PEER=()
	local r
	for r in $(seq 1 "$RUNS"); do
		if [ $((r % 2)) = 1 ]; then
			ours_push "$r" || { push_broke; return 0; }
			peer_push "$r"
		else
			peer_push "$r"
			ours_push "$r" || { push_broke; return 0; }
		fi
		note "run $r: deploy push ${PUSH_OURS[-1]} s, crane copy ${PUSH_PEER[-1]} s"
	done
	local o t
	o=$(median "${PUSH_OURS[@]}")
	t=$(median "${PUSH_PEER[@]}")
	row "push into a fresh registry (s)" "$o" "$t" "$(div "$o" "$t")" "<= 0.5" "$(verdict "$(div "$o" "$t")" le 0.5)"
}

push_broke() {
	row "push into a fresh registry (s)" "broken" "-" "-" "<= 0.5" "BROKEN"
	BROKE=1
}
