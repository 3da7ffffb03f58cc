# shellcheck shell=bash disable=SC2034,SC2153
# (SC2034/SC2153: the variables are shared with scripts/bench.sh and its other parts.)
# bench_build (issue 2): a cold `bundle build` against crane pull + tar | zstd,
# on the same images and files, interleaved. Sourced by scripts/bench.sh.
# Leaves our last bundle in $BUNDLE for the seed benchmarks.

BUNDLE="$OUT/ours.bundle"

# ours_build RUN: a cold build (the cache directory is emptied first).
ours_build() {
	rm -rf "$OUT/cache" "$BUNDLE"
	# bundle build fsyncs the bundle before renaming it; the sync of the
	# output, as on the peer's side, finds nothing left to write.
	# shellcheck disable=SC2016 # expanded by the inner shell
	must_time "ours-build-$1" bash -c 'bin/bundle build -f "$1" -o "$2" --unsigned --cache-dir "$3" --quiet &&
		sync "$2"' _ "$STACK" "$BUNDLE" "$OUT/cache"
	OURS_WALL+=("$(wall "ours-build-$1")")
	OURS_RSS+=("$(rss "ours-build-$1")")
	OURS_CPU+=("$(cpu "ours-build-$1")")
	note "run $1 ours: $(wall "ours-build-$1") s, CPU ${OURS_CPU[-1]} s, peak RSS $(rss "ours-build-$1") MiB"
	disk_limit "$1"
}

# disk_limit RUN: the physical limit, the bundle's bytes (read from the page
# cache) written once with dd conv=fsync.
disk_limit() {
	rm -f "$OUT/dd.out"
	must_time "dd-$1" dd if="$BUNDLE" of="$OUT/dd.out" bs=4M conv=fsync
	rm -f "$OUT/dd.out"
	DD_WALL+=("$(wall "dd-$1")")
	note "run $1 dd conv=fsync of the bundle's bytes: $(wall "dd-$1") s"
}

# peer_build RUN: crane pull --format=oci of every image into a fresh layout,
# then tar (layout and files) | zstd -T0, and a sync of the output: both
# sides are timed until their output is on disk (the intermediates, our
# cache and crane's layout, are left to the kernel on both sides). The two commands are timed apart
# and added; the RSS is the larger of the two.
peer_build() {
	local layout="$OUT/peer-layout" out="$OUT/peer.tar.zst" refs=() r
	rm -rf "$layout" "$out"
	for r in "${REFS[@]}"; do refs+=("$REG_ADDR/$r"); done
	if [ "$CRANE_PULL" = each ]; then
		# shellcheck disable=SC2016 # expanded by the inner shell
		must_time "peer-pull-$1" bash -c 'l=$1; shift; for r; do crane pull --format=oci "$r" "$l" || exit 1; done' \
			_ "$layout" "${refs[@]}"
	else
		must_time "peer-pull-$1" crane pull --format=oci "${refs[@]}" "$layout"
	fi
	# No sync between the two halves: the pipeline runs them back to back.
	# shellcheck disable=SC2016 # expanded by the inner shell
	/usr/bin/time -v -o "$OUT/time/peer-pack-$1" bash -c 'set -o pipefail
		tar -cf - -C "$1" . -C "$2" files | zstd -q -T0 -o "$3" && sync "$3"' _ "$layout" "$STACK_DIR" "$out" \
		>"$OUT/logs/peer-pack-$1.log" 2>&1 || die "peer-pack-$1 failed (log: $OUT/logs/peer-pack-$1.log)"
	PEER_WALL+=("$(sum "$(wall "peer-pull-$1")" "$(wall "peer-pack-$1")")")
	PEER_RSS+=("$(max "$(rss "peer-pull-$1")" "$(rss "peer-pack-$1")")")
	PEER_CPU+=("$(sum "$(cpu "peer-pull-$1")" "$(cpu "peer-pack-$1")")")
	note "run $1 peer: $(wall "peer-pull-$1") s crane pull + $(wall "peer-pack-$1") s tar|zstd, CPU ${PEER_CPU[-1]} s, peak RSS ${PEER_RSS[-1]} MiB"
	if [ -z "${UNIQUE_BLOBS:-}" ]; then
		UNIQUE_BLOBS=$(find "$layout/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }')
		PEER_SIZE=$(stat -c %s "$out")
	fi
	rm -rf "$layout" "$out"
}

bench_build() {
	OURS_WALL=() OURS_RSS=() OURS_CPU=() PEER_WALL=() PEER_RSS=() PEER_CPU=() DD_WALL=()
	step "bundle build (cold) vs crane pull --format=oci + tar | zstd -T0 ($RUNS runs, interleaved)"
	local r
	for r in $(seq 1 "$RUNS"); do
		if [ $((r % 2)) = 1 ]; then
			ours_build "$r"
			peer_build "$r"
		else
			peer_build "$r"
			ours_build "$r"
		fi
	done
	local ow pw orss prss
	ow=$(median "${OURS_WALL[@]}")
	pw=$(median "${PEER_WALL[@]}")
	orss=$(max "${OURS_RSS[@]}")
	prss=$(max "${PEER_RSS[@]}")
	row "build wall time, cold (s)" "$ow" "$pw" "$(div "$ow" "$pw")" "<= 0.70" "$(verdict "$(div "$ow" "$pw")" le 0.70)"
	limit "build wall time, cold (s)" "$(median "${DD_WALL[@]}")"
	local oc pc
	oc=$(median "${OURS_CPU[@]}")
	pc=$(median "${PEER_CPU[@]}")
	row "build CPU time, user+sys (s)" "$oc" "$pc" "$(div "$oc" "$pc")" "info" "-"
	row "build peak RSS (MiB, max of runs)" "$orss" "$prss" "$(div "$orss" "$prss")" "ours < 300" "$(verdict "$orss" lt 300)"
	bench_sizes
	rm -rf "$OUT/cache" # 2 GiB; every build starts cold anyway
}

# bench_sizes: bytes stored for the incompressible blobs (tar headers,
# padding and framing included) against their size, and the whole bundle
# against the unique blobs plus the files.
bench_sizes() {
	local sizes blob_raw blob_stored ours_size raw_all
	sizes=$(bin/bench-size "$BUNDLE") || die "bench-size $BUNDLE failed"
	blob_raw=$(awk -F'[ =]' '$2 == "blob" { print $6 }' <<<"$sizes")
	blob_stored=$(awk -F'[ =]' '$2 == "blob" { print $8 }' <<<"$sizes")
	ours_size=$(stat -c %s "$BUNDLE")
	raw_all=$((UNIQUE_BLOBS + FILES_BYTES))
	note "bench-size: $(tr '\n' ';' <<<"$sizes")"
	note "unique blobs in crane's layout: $UNIQUE_BLOBS bytes; files: $FILES_BYTES bytes"
	row "layer blobs stored vs raw (MiB)" "$(mib "$blob_stored")" "$(mib "$blob_raw")" \
		"$(div "$blob_stored" "$blob_raw")" "<= 1.01" "$(verdict "$(div "$blob_stored" "$blob_raw")" le 1.01)"
	row "file size vs unique blobs+files (MiB)" "$(mib "$ours_size")" "$(mib "$PEER_SIZE")" \
		"$(div "$ours_size" "$raw_all") / $(div "$PEER_SIZE" "$raw_all")" "info" "-"
}
