#!/usr/bin/env bash
# bench.sh [N] — builds N (default 500) tiny RPMs, then times createrepo_c
# and our repodata generation (internal/cmd/repodata-bench) on the same
# files, each run 3 times (best time kept), and prints the ratio. The goal
# is ours <= 1.5x createrepo_c's time. Needs Debian packages rpm and
# createrepo-c, and Go.
set -euo pipefail
n=${1:-500}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/specs" "$work/rpms"
for i in $(seq 1 "$n"); do
	cat >"$work/specs/bench-$i.spec" <<SPEC
Name: bench-$i
Version: 1.$((i % 7))
Release: 1
Summary: benchmark package $i
License: MIT
BuildArch: noarch
AutoReqProv: no
Requires: bench-$(((i % n) + 1))
Provides: bench-cap-$i = 1.0
%description
Benchmark package $i.
%install
mkdir -p %{buildroot}/usr/share/bench/$i %{buildroot}/usr/bin
echo $i > %{buildroot}/usr/share/bench/$i/data
echo $i > %{buildroot}/usr/bin/bench-$i
%files
/usr/share/bench/$i
/usr/bin/bench-$i
SPEC
done
echo "building $n RPMs..." >&2
# The rpmbuild processes below share one _topdir; made up front, so that two
# of them never race to create it ("File exists").
mkdir -p "$work"/rpmbuild/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS} "$work/rpms"
(cd "$work/specs" && printf '%s\0' *.spec | xargs -0 -n 50 -P "$(nproc)" rpmbuild --quiet -bb \
	--define "_topdir $work/rpmbuild" --define "_rpmdir $work/rpms" \
	--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
	--define "_binary_payload w9.gzdio" --define "__os_install_post %{nil}" >/dev/null)
(cd "$root" && go build -o "$work/repodata-bench" ./internal/cmd/repodata-bench)

best() { # best CMD...: prints the best wall time of 3 runs in seconds
	local b="" t
	for _ in 1 2 3; do
		rm -rf "$work/rpms/repodata"
		/usr/bin/time -f %e -o "$work/time" "$@" >/dev/null 2>&1
		t=$(tail -1 "$work/time")
		if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
	done
	echo "$b"
}
theirs=$(best createrepo_c --quiet --no-database "$work/rpms")
ours=$(best "$work/repodata-bench" "$work/rpms")
ratio=$(awk "BEGIN{ if ($theirs > 0) printf \"%.2f\", $ours / $theirs; else print \"inf\" }")
echo "packages: $n  createrepo_c: ${theirs}s  ours: ${ours}s  ratio: $ratio (goal <= 1.5)"
