#!/usr/bin/env bash
# make demo: the main job on the built-in demo stack.
#  1. start the fixture registry (Debian's docker-registry) with the demo images;
#  2. make a signing key, lint and lock the demo stack;
#  3. build a signed bundle, inspect it, verify it;
#  4. build the site bundle: the demo images plus signed fixture RPMs (their
#     dependency closure resolved by bundle build) for the hosts' roles;
#  5. bring up the air-gapped test site (scripts/site: a deploy node, two
#     masters, a worker) and deploy the site bundle onto it from the deploy
#     node, then print the plan and what landed on the hosts.
# DEMO_SITE=0 stops after step 3 (no Docker needed).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/demo}
PORT=${DEMO_REGISTRY_PORT:-5000}
mkdir -p "$OUT"

step() { printf '\n==> %s\n' "$*"; }
# shellcheck source=scripts/lib/fixture-registry.sh
. scripts/lib/fixture-registry.sh

step "fixture registry"
start_fixture_registry "$OUT" demo "$PORT"
cat "$OUT/registry.out"

# A demo key pair; in real CI the key and its password come from the CI's secrets.
export COSIGN_PASSWORD=${COSIGN_PASSWORD:-demo-only-password}
if [ ! -f "$OUT/cosign.key" ]; then
  step "signing key"
  bin/bundle keys generate --prefix "$OUT/cosign"
fi

MIRROR=(--registry-mirror "registry.factory.example=$ADDR")
step "bundle lint --stack demo"
bin/bundle lint --stack demo
step "bundle lock --stack demo"
bin/bundle lock --stack demo --lock-file "$OUT/demo.lock.yaml" "${MIRROR[@]}" --cache-dir "$OUT/cache" --quiet
step "bundle build --stack demo --locked --sign-key"
bin/bundle build --stack demo --locked --lock-file "$OUT/demo.lock.yaml" "${MIRROR[@]}" \
  --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" -o "$OUT/demo.bundle"
step "bundle inspect"
bin/bundle inspect "$OUT/demo.bundle"
step "bundle verify --key"
bin/bundle verify "$OUT/demo.bundle" --key "$OUT/cosign.pub"
step "standard tools: zstd -t, and tar lists the OCI layout"
zstd -q -t "$OUT/demo.bundle" && echo "zstd -t: ok"
zstd -dc "$OUT/demo.bundle" | tar -t | grep -E '^(oci-layout|index.json|bundle.json)$'

printf '\ndemo bundle: %s (public key %s)\n' "$OUT/demo.bundle" "$OUT/cosign.pub"
[ "${DEMO_SITE:-1}" = 0 ] && exit 0

step "site bundle: the demo images plus fixture RPMs, resolved and signed"
bash scripts/rpm-fixtures/build.sh "$OUT/rpm-fixtures" >/dev/null
mkdir -p "$OUT/site-stack"
cp "$OUT/rpm-fixtures/keys/RPM-GPG-KEY-fixture" "$OUT/cosign.pub" "$OUT/site-stack/"
FIX=$(cd "$OUT/rpm-fixtures" && pwd)
{ fixture_stack_head demo-site "$FIX"; cat <<YAML; } >"$OUT/site-stack/stack.yaml"
    - name: core
      roles: [master, worker]
      images:
        - registry.factory.example/library/app:1.0
        - registry.factory.example/library/db:1.0
      rpms: [chain-a, cron-lite, foo-wrapper]
    - name: tools
      images:
        - registry.factory.example/library/multi:1.0
        - registry.factory.example/library/logs:1.0
YAML
bin/bundle build -f "$OUT/site-stack/stack.yaml" --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" \
  -o "$OUT/site-stack/demo-site.bundle" --quiet
bin/bundle inspect "$OUT/site-stack/demo-site.bundle" | sed -n '/^rpms/,$p'

step "test site (first run builds its host image with debootstrap: a few minutes)"
bash scripts/site/build-image.sh >/dev/null
STATE=$(bash scripts/site/up.sh demo --mount "$OUT/site-stack")
BUNDLE_DIR=$(cd "$OUT/site-stack" && pwd)
DEPLOY=(docker exec appliance-site-demo-deploy /opt/appliance/bin/deploy)
step "deploy --bundle (inside the air-gapped deploy node)"
"${DEPLOY[@]}" --bundle "$BUNDLE_DIR/demo-site.bundle" --key "$BUNDLE_DIR/cosign.pub" \
  -i "$STATE/inventory.yaml" --state-dir "$STATE/deploy" --restart --test-site-hosts \
  --sudo-password-file "$STATE/admin_password"
step "deploy plan"
"${DEPLOY[@]}" plan --state-dir "$STATE/deploy"
step "on the hosts"
for h in master-1 master-2 worker-1; do
  printf '%s: %s\n' "$h" "$(docker exec "appliance-site-demo-$h" rpm -q chain-a cron-lite foo-wrapper | tr '\n' ' ')"
done
docker exec appliance-site-demo-master-1 haproxy -c -f /etc/haproxy/haproxy.cfg
printf '\nthe site stays up: scripts/site/down.sh demo removes it\n'
