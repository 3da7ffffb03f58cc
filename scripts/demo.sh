#!/usr/bin/env bash
# make demo: the main job on the built-in demo stack.
#  1. start the fixture registry (Debian's docker-registry) with the demo images;
#  2. make a signing key, lint and lock the demo stack;
#  3. build a signed bundle, inspect it, verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/demo}
PORT=${DEMO_REGISTRY_PORT:-5000}
mkdir -p "$OUT"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while port_busy "$PORT"; do PORT=$((PORT + 1)); done
ADDR=127.0.0.1:$PORT

step() { printf '\n==> %s\n' "$*"; }

step "fixture registry on $ADDR"
go build -o bin/fixture-registry ./internal/cmd/fixture-registry
bin/fixture-registry --addr "$ADDR" --dir "$OUT/registry" --set demo >"$OUT/registry.out" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  grep -q '^ready' "$OUT/registry.out" 2>/dev/null && break
  kill -0 $REG_PID 2>/dev/null || { cat "$OUT/registry.out"; exit 1; }
  sleep 0.5
done
grep -q '^ready' "$OUT/registry.out" || { echo "fixture registry did not start"; cat "$OUT/registry.out"; exit 1; }
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
