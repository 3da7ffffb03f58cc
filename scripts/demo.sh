#!/usr/bin/env bash
# make demo: the main job on the built-in demo stack, ending on a running
# platform.
#  1. start the fixture registry (Debian's docker-registry) with the demo images;
#  2. make a signing key, lint and lock the demo stack;
#  3. build a signed bundle, inspect it, verify it;
#  4. build Kubernetes v1.26.15 (the version the built-in KubeSphere stack
#     ships) from source: the first run takes about 20 min on two cores,
#     then it is cached (~/.cache/appliance-k8s) and takes seconds;
#  5. build the platform bundle (scripts/site/platform-stack.sh): Kubernetes
#     with the built-in stack's image names and RPM versions, Harbor's
#     stand-in, the pod network's stand-in (demo-cni, in Calico's place)
#     and a demo chart;
#  6. bring up the air-gapped test site (scripts/site: a deploy node,
#     master-1, and worker-1, which is also the registry host) and deploy
#     the platform bundle onto it from the deploy node: hosts prepared,
#     Kubernetes up, Harbor installed and loaded, the stack installed;
#  7. print deploy status (nodes Ready, Harbor healthy, releases deployed)
#     and how to look around.
# DEMO_SITE=0 stops after step 3 (no Docker needed, about a minute).
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

SITE=demo
step "Kubernetes v1.26.15 from source (scripts/k8s/build.sh): the first run takes about 20 min on two cores and says how far it got every minute; then it is cached in ~/.cache/appliance-k8s and takes seconds"
K8S=$(bash scripts/k8s/build.sh | tail -n 1)

step "the platform bundle: Kubernetes, Harbor's stand-in, the pod network's stand-in, a demo chart (scripts/site/platform-stack.sh)"
rm -rf "$OUT/platform"
bash scripts/site/platform-stack.sh --into "$OUT/platform" --registry "$ADDR" --k8s "$K8S" --name demo-platform >/dev/null
cp "$OUT/cosign.pub" "$OUT/platform/"
bin/bundle build -f "$OUT/platform/stack.yaml" --cache-dir "$OUT/cache" --sign-key "$OUT/cosign.key" \
  -o "$OUT/platform/platform.bundle" --quiet
bin/bundle inspect "$OUT/platform/platform.bundle" | sed -n '/^components/,$p'

step "test site: master-1, and worker-1 as the registry host (the first run builds the host image with debootstrap: about 5 min)"
bash scripts/site/build-image.sh >/dev/null
STATE=$(bash scripts/site/up.sh "$SITE" --masters 1 --registry worker-1 --mount "$OUT/platform")
BUNDLE_DIR=$(cd "$OUT/platform" && pwd)
DEPLOY=(docker exec "appliance-site-$SITE-deploy" /opt/appliance/bin/deploy)
step "deploy --bundle (inside the air-gapped deploy node; about 3 min)"
"${DEPLOY[@]}" --bundle "$BUNDLE_DIR/platform.bundle" --key "$BUNDLE_DIR/cosign.pub" \
  -i "$STATE/inventory.yaml" --state-dir "$STATE/deploy" --restart --test-site-hosts
step "deploy status"
"${DEPLOY[@]}" status --state-dir "$STATE/deploy"
master=appliance-site-$SITE-master-1
version=$(docker exec "$master" kubectl --kubeconfig /etc/kubernetes/admin.conf get node master-1 -o jsonpath='{.status.nodeInfo.kubeletVersion}')
cat <<EOF

The platform is running: Kubernetes $version on master-1 and worker-1, Harbor on worker-1,
the demo chart in namespace stack-demo. Look around:
  docker exec $master kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes,pods -A -o wide
  docker exec appliance-site-$SITE-deploy /opt/appliance/bin/deploy plan --state-dir $STATE/deploy
  docker exec appliance-site-$SITE-deploy /opt/appliance/bin/deploy status --state-dir $STATE/deploy
The site stays up: scripts/site/down.sh $SITE removes it.
EOF
