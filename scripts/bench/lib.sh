# shellcheck shell=bash disable=SC2034,SC2153
# (SC2034/SC2153: the variables are shared with scripts/bench.sh and its other parts.)
# Shared helpers of scripts/bench.sh: processes, timing, statistics, the
# fixture registry, the stack manifest and the result table. Sourced, not run.

# The bench's data and places, from make bench's knobs (scripts/bench.sh).
IMAGES=${BENCH_IMAGES:-24}
BYTES=${BENCH_BYTES:-2GiB}
[ "${BENCH_BIG:-0}" = 1 ] && BYTES=4GiB
FILES_MIB=${BENCH_FILES_MIB:-64}
CLIENTS=8
OUT=${BENCH_OUT:-out/bench}
MIRROR_NAME=registry.bench.example

# bench_begin [SUBDIR...]: makes $OUT (absolute from then on) with logs/,
# time/ and the SUBDIRs, and stops every tracked process at exit.
bench_begin() {
	local d
	mkdir -p "$OUT"/{logs,time}
	for d in "$@"; do mkdir -p "$OUT/$d"; done
	OUT=$(cd "$OUT" && pwd)
	PIDS=()
	trap stop_all EXIT
}

step() { printf '\n==> %s\n' "$*"; }
# note prints a line and keeps it for the results file ($OUT/notes.log,
# so that notes from command substitutions are kept too).
note() {
	printf '    %s\n' "$*"
	[ -z "${OUT:-}" ] || printf '%s\n' "$*" >>"$OUT/notes.log"
}

die() {
	echo "bench: $*" >&2
	exit 1
}

# check_tools fails naming the Debian package or make target of a missing tool.
check_tools() {
	local t pkg
	for t in /usr/bin/time:time zstd:zstd tar:tar docker-registry:docker-registry \
		crane:"make tools (scripts/install-tools.sh)" jq:jq; do
		pkg=${t#*:}
		command -v "${t%%:*}" >/dev/null || die "${t%%:*} not found: install $pkg"
	done
}

build_tools() {
	step "build the bench tools"
	go build -o bin/fixture-registry ./internal/cmd/fixture-registry
	go build -o bin/bench-pull ./internal/cmd/bench-pull
	go build -o bin/bench-size ./internal/cmd/bench-size
	[ -x bin/bundle ] || die "bin/bundle missing: run make build"
}

# free_port prints a loopback port nobody listens on, starting at $1.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# track PID: stop_all kills it at exit.
track() { PIDS+=("$1"); }

# stop_pid PID: TERM, wait up to 10 s, then KILL; only processes we started.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}

# timed NAME CMD...: runs CMD under /usr/bin/time -v after an untimed sync;
# its output goes to $OUT/logs/NAME.log, the measurements to $OUT/time/NAME.
# Returns CMD's status.
timed() {
	local name=$1
	shift
	sync
	/usr/bin/time -v -o "$OUT/time/$name" "$@" >"$OUT/logs/$name.log" 2>&1
}

# must_time NAME CMD...: timed, but a failure stops the bench.
must_time() {
	local name=$1
	if ! timed "$@"; then
		tail -20 "$OUT/logs/$name.log" >&2
		die "$name failed (log: $OUT/logs/$name.log)"
	fi
}

# wall NAME prints the wall time in seconds, rss NAME the peak RSS in MiB.
wall() {
	awk -F': ' '/Elapsed \(wall clock\)/ {
		n = split($2, p, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + p[i]
		printf "%.2f\n", s }' "$OUT/time/$1"
}
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f\n", s }' "$OUT/time/$1"; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f\n", $2 / 1024 }' "$OUT/time/$1"; }

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a + b }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f\n", a / b; else print "inf" }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f\n", a / 1048576 }'; }

# start_fixture_registry starts Debian's docker-registry with the bench image
# set (pushed once, kept in $OUT/registry-IMAGES-BYTES between runs) and sets
# REG_ADDR, REG_STORAGE and REFS (repo:tag of every image).
start_fixture_registry() {
	local dir="$OUT/registry-$IMAGES-$BYTES" port log i
	port=$(free_port 5300)
	REG_ADDR=127.0.0.1:$port
	log="$OUT/logs/fixture-registry.log"
	bin/fixture-registry --addr "$REG_ADDR" --dir "$dir" --set bench \
		--bench-images "$IMAGES" --bench-bytes "$BYTES" >"$log" 2>&1 &
	track $!
	for i in $(seq 1 1200); do # pushing 4 GiB the first time takes minutes
		grep -q '^ready' "$log" && break
		kill -0 "${PIDS[-1]}" 2>/dev/null || { tail "$log" >&2; die "fixture registry failed"; }
		sleep 0.5
	done
	grep -q '^ready' "$log" || die "fixture registry not ready after 10 min (log: $log)"
	REG_STORAGE="$dir/storage"
	mapfile -t REFS < <(awk -v a="$REG_ADDR/" '$1 == "pushed" && index($2, a) == 1 { print substr($2, length(a) + 1) }' "$log")
	[ "${#REFS[@]}" = "$IMAGES" ] || die "fixture registry pushed ${#REFS[@]} images, want $IMAGES"
	note "$REG_ADDR, ${#REFS[@]} images, storage $REG_STORAGE"
}

# make_stack writes the stack manifest and its text files under $OUT/stack
# (the files only when missing; they are deterministic) and sets STACK,
# STACK_DIR and FILES_BYTES. Images are named under $MIRROR_NAME and pulled
# from the fixture registry through registryMirrors, so the bundle serves
# them under proper repository names.
make_stack() {
	STACK_DIR="$OUT/stack"
	STACK="$STACK_DIR/bench.yaml"
	mkdir -p "$STACK_DIR/files"
	local n=8 per=$((FILES_MIB * 1048576 / 8)) f r
	for f in $(seq 0 $((n - 1))); do
		[ "$(stat -c %s "$STACK_DIR/files/log-$f.txt" 2>/dev/null)" = "$per" ] && continue
		text_file "$f" "$per" >"$STACK_DIR/files/log-$f.txt"
	done
	{
		printf 'apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: bench, version: 1.0.0}\n'
		printf 'spec:\n  platform: linux/amd64\n  registryMirrors:\n    %s: %s\n' "$MIRROR_NAME" "$REG_ADDR"
		printf '  components:\n    - name: bench\n      images:\n'
		for r in "${REFS[@]}"; do printf '        - %s/%s\n' "$MIRROR_NAME" "$r"; done
		printf '      files:\n'
		for f in $(seq 0 $((n - 1))); do printf '        - path: files/log-%s.txt\n' "$f"; done
	} >"$STACK"
	FILES_BYTES=$((per * n))
	bin/bundle lint -f "$STACK" >/dev/null
	note "$STACK: ${#REFS[@]} images, $n files of $((per / 1048576)) MiB"
}

# text_file SEED BYTES writes BYTES of log-like lines (zstd shrinks them
# about 5x), the same for the same SEED.
text_file() {
	awk -v seed="$1" -v n="$2" 'BEGIN {
		srand(seed + 1)
		split("INFO WARN DEBUG ERROR", lv, " ")
		split("apiserver scheduler etcd kubelet harbor calico coredns ingress", cm, " ")
		for (i = 0; s < n; i++) {
			l = sprintf("2026-01-%02dT%02d:%02d:%02d.%03dZ %s %s request id=%08x path=/api/v1/namespaces/ns-%d/pods/pod-%d status=%d bytes=%d\n",
				1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000, lv[1 + int(rand() * 4)], cm[1 + int(rand() * 8)],
				int(rand() * 2147483647), int(rand() * 50), int(rand() * 5000), (rand() < 0.9 ? 200 : 500), int(rand() * 100000))
			if (s + length(l) > n) l = substr(l, 1, n - s)
			printf "%s", l
			s += length(l)
		}
	}'
}

# start_registry NAME: a fresh, empty docker-registry in $OUT/NAME; sets
# TARGET_ADDR and TARGET_PID.
start_registry() {
	local dir="$OUT/$1" port i
	rm -rf "$dir"
	mkdir -p "$dir/storage"
	port=$(free_port 5400)
	TARGET_ADDR=127.0.0.1:$port
	cat >"$dir/config.yml" <<-EOF
		version: 0.1
		log:
		  level: warn
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $dir/storage
		  maintenance:
		    uploadpurging:
		      enabled: false
		http:
		  addr: $TARGET_ADDR
		  secret: bench-$1
	EOF
	# REGISTRY_DEBUG_ADDR: the registry's debug server (net/http/pprof), for
	# scripts/bench/profile.sh; make bench leaves it off.
	if [ -n "${REGISTRY_DEBUG_ADDR:-}" ]; then
		printf '  debug:\n    addr: %s\n' "$REGISTRY_DEBUG_ADDR" >>"$dir/config.yml"
	fi
	docker-registry serve "$dir/config.yml" >"$OUT/logs/$1.log" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://$TARGET_ADDR/v2/" 2>/dev/null && return 0
		sleep 0.1
	done
	die "docker-registry for $1 did not start (log: $OUT/logs/$1.log)"
}

# stop_registry NAME: stops TARGET_PID and removes its storage.
stop_registry() {
	stop_pid "$TARGET_PID"
	rm -rf "${OUT:?}/$1"
}

# row METRIC OURS PEER RATIO TARGET RESULT: one line of the final table.
ROWS=()
row() { ROWS+=("$(printf '%s\t' "$@")"); }

# verdict VALUE OP LIMIT prints PASS or MISS (OP: le, lt, ge).
verdict() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		ok = (op == "le" && v <= l) || (op == "lt" && v < l) || (op == "ge" && v >= l)
		print (v == "" || v == "inf") ? "MISS" : (ok ? "PASS" : "MISS") }'
}

print_table() {
	step "results ($RUNS runs each, medians; $IMAGES images, $BYTES of layers, $FILES_MIB MiB of files)"
	table_tsv | awk -F'\t' '{ for (i = 1; i < NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NF - 1 }
		END { for (r = 1; r <= NR; r++) { for (i = 1; i <= n; i++) printf "%-*s  ", w[i], c[r, i]; printf "\n" } }'
}

# limit METRIC VALUE: the physical limit of a row (what the disk allows),
# shown in the LIMIT column.
declare -A LIMITS=()
limit() { LIMITS[$1]=$2; }

# table_tsv prints the rows with the LIMIT column after PEER.
table_tsv() {
	local r m rest
	printf 'METRIC\tOURS\tPEER\tLIMIT\tRATIO\tTARGET\tRESULT\t\n'
	for r in "${ROWS[@]}"; do
		m=${r%%$'\t'*}
		rest=${r#*$'\t'}                                   # OURS PEER RATIO ...
		printf '%s\t%s\t%s\t%s\t%s\n' "$m" "${rest%%$'\t'*}" "$(cut -f2 <<<"$rest")" "${LIMITS[$m]:--}" "$(cut -f3- <<<"$rest")"
	done
}

# commit_id prints the short commit, with -dirty when the tree has changes.
commit_id() {
	local c
	c=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet HEAD 2>/dev/null || c="$c-dirty"
	echo "$c"
}

# machine_id: what make bench-check compares to tell a run on another
# machine: CPU model, CPUs, memory, kernel and the root file system.
machine_id() {
	local model mem root
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	root=$(awk '$2 == "/" { print $3 " on " $1; exit }' /proc/mounts)
	printf '%s, %s CPUs, %s, kernel %s, root %s' "${model:-unknown CPU}" "$(nproc)" "$mem" "$(uname -r)" "$root"
}

# write_results FILE LOAD_START: the table as markdown, with the commit, the
# date and the machine's load, then the notes of the run (per-run figures).
# internal/benchx reads it back for make bench-check.
write_results() {
	local file=$1 load_start=$2
	{
		printf '# make bench results\n\n'
		printf -- '- commit: %s\n' "$(commit_id)"
		printf -- '- date: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		printf -- '- load: %s at start, %s at end (%s CPUs)\n' "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
		printf -- '- machine: %s\n' "$(machine_id)"
		printf -- '- runs: %s each, medians; %s images, %s of layers, %s MiB of files\n\n' "$RUNS" "$IMAGES" "$BYTES" "$FILES_MIB"
		table_tsv | awk -F'\t' 'NR == 1 { printf "| metric | ours | peer | limit | ratio | target | result |\n| --- | --- | --- | --- | --- | --- | --- |\n"; next }
			{ printf "|"; for (i = 1; i < NF; i++) printf " %s |", $i; printf "\n" }'
		printf '\nNotes of the run:\n\n```\n'
		cat "$OUT/notes.log" 2>/dev/null
		printf '```\n'
	} >"$file"
}
