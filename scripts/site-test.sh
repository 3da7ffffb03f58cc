#!/usr/bin/env bash
# site-test.sh (make site-test): deploys a fixture bundle end to end onto the
# air-gapped test site (scripts/site) and checks the hosts.
#
#  1. build bin/ and, under $OUT (default out/site-test), the site bundle
#     with `bundle build`: the demo images from the fixture registry, the
#     signed fixture RPMs (scripts/rpm-fixtures) resolved into one yum repo
#     with each role's packages, and an incompressible padding file; and
#     the Kubernetes bundle: the images of the built-in stack's kubernetes
#     component under their pinned names (Kubernetes v1.26.15, etcd
#     3.5.10-0, CoreDNS v1.9.3, pause), hello, and the kubelet, kubeadm,
#     kubectl, cri-tools and kubernetes-cni RPMs at the stack's versions,
#     all built from source by scripts/k8s/build.sh (cached under
#     ~/.cache/appliance-k8s; about 20 min cold), the
#     Harbor stand-in installer (scripts/site/harbor-standin), and demo-cni,
#     the pod network component standing in for Calico;
#  2. run the test site's own checks (internal/testsite, build tag "site");
#  3. run the Go site test (build tag "site", internal/deploy/sitetest): it
#     brings the site up and runs the deployer in the deploy node: dry run, unknown host keys,
#     Debian refused, a SIGKILL in every phase with --resume, a host cut off
#     mid-phase, an uninterrupted deploy on a fresh site, the host checks, and
#     a grep of every log for the passwords; then a 3-master + 1-worker
#     Kubernetes behind the VIP (kills in each /kubernetes phase, a master
#     cut off mid-join, a pod on the worker, master-3 and worker-1 removed
#     and added again, deploy certs renew killed and resumed, the renewal
#     timer, deploy backup, etcd destroyed on every master and deploy
#     restore killed and resumed, VIP failover) and a 1-master one
#     whose worker is also the registry host: Harbor (the stand-in) loaded
#     with every image, the nodes pulling from it once deploy has exited.
#
# Needs the Debian packages of make deps (rpm, gnupg, docker-registry,
# debootstrap, zstd) and the Docker engine. SITE_TEST_RUN=REGEX runs only
# matching subtests; KEEP_SITE=1 keeps the site up afterwards;
# SITE_TEST_UPGRADE=1 (make test-upgrade) also builds Kubernetes v1.26.13
# and its bundle, for TestKubernetesUpgrade (skipped without them).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/site-test}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

step() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null || { echo "site-test: $1 not found; install the Debian package $2" >&2; exit 1; }; }
need docker docker.io
need rpmbuild rpm
command -v crane >/dev/null || { echo "site-test: crane not found; run make tools" >&2; exit 1; }

make -s build

step "Kubernetes v1.26.15 from source: binaries, images, signed RPMs, kubeadm v1.34.4 for validation (scripts/k8s/build.sh; cached, cold ~20 min)"
K8S=$(bash scripts/k8s/build.sh | tail -n 1)
echo "k8s artifacts: $K8S"
# The artifacts themselves (versions, the stack's image names and RPM pins,
# entrypoints, signatures, a registry round trip).
APPLIANCE_K8S_DIR=$K8S go test -count=1 ./internal/cmd/k8s-images/
# The deployer's kubeadm configurations, read by the real kubeadm of each
# end of the window: 1.26's (`config migrate`, as it has no `config
# validate`) for v1.26.15, and v1.34.4's `config validate` for 1.34 and 1.33.
export APPLIANCE_KUBEADM_VALIDATE=$K8S/validate/kubeadm-v1.34.4
APPLIANCE_K8S_BIN=$K8S/bin go test -count=1 -run TestRealKubeadmReadsTheConfigurations -v ./internal/kubeadm/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

step "fixture RPMs (signed, two repos) and the fixture registry"
rm -rf "$OUT/rpm-fixtures" "$OUT/site-stack"
bash scripts/rpm-fixtures/build.sh "$OUT/rpm-fixtures" >/dev/null
FIX=$(cd "$OUT/rpm-fixtures" && pwd)
# shellcheck source=scripts/lib/fixture-registry.sh
. scripts/lib/fixture-registry.sh
start_fixture_registry "$OUT" demo "${SITE_TEST_REGISTRY_PORT:-5100}"

step "site bundle, built by bundle build: demo images, the RPM closure per role, padding"
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-site-test-only-password}
[ -f "$OUT/cosign.key" ] || bin/bundle keys generate --prefix "$OUT/cosign"
mkdir -p "$OUT/site-stack"
cp "$FIX/keys/RPM-GPG-KEY-fixture" "$OUT/site-stack/"
# Incompressible padding, so that /verify lasts long enough to be killed in
# its middle.
head -c $((48 << 20)) /dev/urandom >"$OUT/site-stack/padding.bin"
# Masters get a dependency chain (chain-a → chain-b → chain-c → libchain,
# chain-d) and a file require (foo-wrapper → /usr/bin/footool); the worker a
# virtual provide (cron-lite → MTA ← mta-lite). bundle build resolves the
# closure; dnf on the hosts installs from the served repo.
{ fixture_stack_head site-test "$FIX"; cat <<YAML; } >"$OUT/site-stack/stack.yaml"
    - name: masters
      roles: [master]
      rpms: [chain-a, foo-wrapper]
      images:
        - registry.factory.example/library/app:1.0
        - registry.factory.example/library/db:1.0
      files: [padding.bin]
    - name: workers
      roles: [worker]
      rpms: [cron-lite]
      images:
        - registry.factory.example/library/multi:1.0
        - registry.factory.example/library/logs:1.0
YAML
bin/bundle build -f "$OUT/site-stack/stack.yaml" --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" \
  -o "$OUT/site.bundle" --quiet
bin/bundle inspect "$OUT/site.bundle" | sed -n '/^rpms/,$p'
step "Kubernetes bundle, built by bundle build: the kubesphere stack's kubernetes images and hello through the fixture registry, the k8s RPMs"
# The demo platform (scripts/site/platform-stack.sh, as make demo deploys
# it): the built-in stack's kubernetes component, its images under exactly
# the pinned names and its RPMs at the pinned versions, on every node (the
# worker's kubectl is how the test reaches the cluster through the VIP);
# Harbor's stand-in (scripts/site/harbor-standin: the real distribution
# registry behind the Harbor API fake, in Harbor's offline-installer
# layout), since Harbor's own images cannot run here; demo-cni, the
# stand-in for Calico, whose images cannot be pulled or built here either;
# a template manifest and a small local chart for /stack. Every image comes
# under its own name through one mirror per source registry.
# With SITE_TEST_UPGRADE=1 (make test-upgrade), first the release before
# it for deploy upgrade's test: Kubernetes v1.26.13 from its own sources
# (scripts/k8s/build.sh --previous: the module and build caches shared with
# v1.26.15's), the same platform as stack version 0.0.9. Built first, so
# that the Kubernetes build's "current" link ends on v1.26.15.
K8S_OLD_BUNDLE=""
if [ "${SITE_TEST_UPGRADE:-0}" = 1 ]; then
  start_old=$SECONDS
  K8S_OLD=$(bash scripts/k8s/build.sh --previous | tail -n 1)
  echo "k8s artifacts of the release before: $K8S_OLD ($((SECONDS - start_old)) s)"
  rm -rf "$OUT/k8s-old-stack"
  bash scripts/site/platform-stack.sh --into "$OUT/k8s-old-stack" --registry "$ADDR" --k8s "$K8S_OLD" --name site-k8s:0.0.9 >/dev/null
  bin/bundle build -f "$OUT/k8s-old-stack/stack.yaml" --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" \
    -o "$OUT/k8s-old.bundle" --quiet
  K8S_OLD_BUNDLE=$OUT/k8s-old.bundle
fi
rm -rf "$OUT/k8s-stack"
bash scripts/site/platform-stack.sh --into "$OUT/k8s-stack" --registry "$ADDR" --k8s "$K8S" --name site-k8s >/dev/null
bin/bundle build -f "$OUT/k8s-stack/stack.yaml" --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" \
  -o "$OUT/k8s.bundle" --quiet
bin/bundle inspect "$OUT/k8s.bundle" | sed -n '/^images/,$p' | head -n 20
stop_fixture_registry
trap - EXIT

step "the test site itself: air gap, SSH with known_hosts, tools, VRRP, containerd (go test -tags site ./internal/testsite/)"
go test -tags site -count=1 -timeout 15m ./internal/testsite/

step "deploy onto the test site (go test -tags site ./internal/deploy/sitetest/)"
export SITETEST_BUNDLE=$OUT/site.bundle SITETEST_K8S_BUNDLE=$OUT/k8s.bundle SITETEST_K8S_OLD_BUNDLE=$K8S_OLD_BUNDLE SITETEST_PUB=$OUT/cosign.pub
start=$SECONDS
set +e
go test -tags site -count=1 -timeout 60m -v ${SITE_TEST_RUN:+-run "$SITE_TEST_RUN"} ./internal/deploy/sitetest/ 2>&1 |
  tee "$OUT/site-test.log" | grep -E '^(=== RUN|--- |\s+--- |PASS|FAIL|ok|panic)|_test.go:'
status=${PIPESTATUS[0]}
set -e
echo "site test: $((SECONDS - start))s, log in $OUT/site-test.log"
exit "$status"
