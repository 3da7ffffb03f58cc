#!/usr/bin/env bash
# site-test.sh (make site-test): deploys a fixture bundle end to end onto the
# air-gapped test site (scripts/site) and checks the hosts.
#
#  1. build bin/ and the fixture inputs under $OUT (default out/site-test):
#     signed fixture RPMs (scripts/rpm-fixtures) laid out as one yum repo
#     (Packages/, repodata/ by createrepo_c, keys/), and the demo bundle,
#     built and signed by `bundle build --stack demo` from the fixture
#     registry;
#  2. run the Go site test (build tag "site", internal/deploy/sitetest): it
#     adds the repo to the demo bundle and re-signs it, brings the site up,
#     and runs the deployer in the deploy node: dry run, unknown host keys,
#     Debian refused, a SIGKILL in every phase with --resume, a host cut off
#     mid-phase, an uninterrupted deploy on a fresh site, the host checks, and
#     a grep of every log for the passwords.
#
# Needs the Debian packages of make deps (docker.io, rpm, createrepo-c,
# gnupg, docker-registry, debootstrap, zstd). SITE_TEST_RUN=REGEX runs only
# matching subtests; KEEP_SITE=1 keeps the site up afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/site-test}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "site-test: $1 not found; install the Debian package $2" >&2; exit 1; }; }
need docker docker.io
need createrepo_c createrepo-c
need rpmbuild rpm

make -s build

step "fixture RPM repo"
rm -rf "$OUT/rpm-fixtures" "$OUT/repo"
bash scripts/rpm-fixtures/build.sh "$OUT/rpm-fixtures" >/dev/null
mkdir -p "$OUT/repo/Packages" "$OUT/repo/keys"
# A dependency chain (chain-a → chain-b → chain-c → libchain, chain-d), a
# virtual provide (cron-lite → MTA ← mta-lite) and file requires
# (foo-wrapper → /usr/bin/footool): dnf resolves them from the served repo.
for p in chain-a chain-b chain-c chain-d mta-lite cron-lite footool foo-wrapper; do
  cp "$OUT/rpm-fixtures/base/$p"-[0-9]*.rpm "$OUT/repo/Packages/"
done
cp "$OUT/rpm-fixtures/base/libchain-1.0-1.x86_64.rpm" "$OUT/repo/Packages/"
cp "$OUT/rpm-fixtures/keys/RPM-GPG-KEY-fixture" "$OUT/repo/keys/"
createrepo_c --quiet "$OUT/repo"
ls "$OUT/repo/Packages"

step "demo bundle from the fixture registry"
# shellcheck source=scripts/lib/fixture-registry.sh
. scripts/lib/fixture-registry.sh
start_fixture_registry "$OUT" demo "${SITE_TEST_REGISTRY_PORT:-5100}"
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-site-test-only-password}
[ -f "$OUT/cosign.key" ] || bin/bundle keys generate --prefix "$OUT/cosign"
MIRROR=(--registry-mirror "registry.factory.example=$ADDR")
bin/bundle lock --stack demo --lock-file "$OUT/demo.lock.yaml" "${MIRROR[@]}" --cache-dir "$OUT/cache" --quiet
bin/bundle build --stack demo --locked --lock-file "$OUT/demo.lock.yaml" "${MIRROR[@]}" \
  --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" -o "$OUT/demo.bundle"
stop_fixture_registry
trap - EXIT

step "the test site itself: air gap, SSH with known_hosts, tools, VRRP, containerd (go test -tags site ./internal/testsite/)"
go test -tags site -count=1 -timeout 15m ./internal/testsite/

step "deploy onto the test site (go test -tags site ./internal/deploy/sitetest/)"
export SITETEST_BASE_BUNDLE=$OUT/demo.bundle SITETEST_SIGN_KEY=$OUT/cosign.key SITETEST_REPO=$OUT/repo
start=$SECONDS
set +e
go test -tags site -count=1 -timeout 25m -v ${SITE_TEST_RUN:+-run "$SITE_TEST_RUN"} ./internal/deploy/sitetest/ 2>&1 |
  tee "$OUT/site-test.log" | grep -E '^(=== RUN|--- |\s+--- |PASS|FAIL|ok|panic)|_test.go:'
status=${PIPESTATUS[0]}
set -e
echo "site test: $((SECONDS - start))s, log in $OUT/site-test.log"
exit "$status"
