# shellcheck shell=bash disable=SC2034,SC2153
# (SC2034/SC2153: the variables are shared with scripts/bench.sh and its other parts.)
# bench_repodata (issue 3): runs scripts/rpm-fixtures/bench.sh (500 RPMs,
# our repodata generation against createrepo_c) when it exists and takes its
# ratio. Sourced by scripts/bench.sh.

bench_repodata() {
	local script=scripts/rpm-fixtures/bench.sh line ours theirs ratio
	step "repodata: ours vs createrepo_c on 500 RPMs"
	if [ ! -f "$script" ]; then
		note "repodata: not available ($script missing)"
		row "repodata, 500 RPMs (s)" "n/a" "-" "-" "<= 1.5" "not available"
		return 0
	fi
	if ! bash "$script" >"$OUT/logs/repodata.log" 2>&1; then
		note "repodata: $script failed: $(tail -1 "$OUT/logs/repodata.log")"
		row "repodata, 500 RPMs (s)" "broken" "-" "-" "<= 1.5" "BROKEN"
		BROKE=1
		return 0
	fi
	# packages: N  createrepo_c: Xs  ours: Ys  ratio: R (goal <= 1.5)
	line=$(grep '^packages:' "$OUT/logs/repodata.log" | tail -1)
	note "$line"
	theirs=$(sed -n 's/.*createrepo_c: \([0-9.]*\)s.*/\1/p' <<<"$line")
	ours=$(sed -n 's/.*ours: \([0-9.]*\)s.*/\1/p' <<<"$line")
	ratio=$(sed -n 's/.*ratio: \([0-9.inf]*\).*/\1/p' <<<"$line")
	if [ -z "$ours" ] || [ -z "$theirs" ]; then
		row "repodata, 500 RPMs (s)" "unparsed" "-" "-" "<= 1.5" "BROKEN"
		BROKE=1
		return 0
	fi
	row "repodata, 500 RPMs (s, best of 3)" "$ours" "$theirs" "$ratio" "<= 1.5" "$(verdict "$ratio" le 1.5)"
}
