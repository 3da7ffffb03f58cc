# shellcheck shell=bash
# Sourced by the demo and the site test: starts the fixture registry
# (Debian's docker-registry, internal/cmd/fixture-registry) on a free
# loopback port and waits until its image set is pushed.
#
#   start_fixture_registry DIR SET FIRST_PORT
#
# Sets ADDR (127.0.0.1:PORT) and REG_PID, and an EXIT trap that stops it.
# The registry's storage stays in DIR/registry between runs.

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_fixture_registry() {
  local dir=$1 set=$2 port=$3
  while port_busy "$port"; do port=$((port + 1)); done
  ADDR=127.0.0.1:$port
  go build -o bin/fixture-registry ./internal/cmd/fixture-registry
  bin/fixture-registry --addr "$ADDR" --dir "$dir/registry" --set "$set" >"$dir/registry.out" 2>&1 &
  REG_PID=$!
  trap 'stop_fixture_registry' EXIT
  for _ in $(seq 1 240); do
    grep -q '^ready' "$dir/registry.out" 2>/dev/null && return 0
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "fixture registry did not start:" >&2
  cat "$dir/registry.out" >&2
  return 1
}

stop_fixture_registry() {
  kill "$REG_PID" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
}

# fixture_stack_head NAME FIXTURE_DIR prints the start of a stack manifest
# whose images come from the fixture registry at $ADDR and whose RPMs come
# from the signed fixture repos (scripts/rpm-fixtures) in FIXTURE_DIR, with
# RPM-GPG-KEY-fixture beside the manifest. The caller appends components.
fixture_stack_head() {
  cat <<YAML
apiVersion: appliance/v1
kind: Stack
metadata: {name: $1, version: 0.1.0}
spec:
  registryMirrors: {registry.factory.example: $ADDR}
  rpmRepos:
    - {id: base, baseurl: "file://$2/base", gpgkey: RPM-GPG-KEY-fixture}
    - {id: updates, baseurl: "file://$2/updates", gpgkey: RPM-GPG-KEY-fixture}
  components:
YAML
}
