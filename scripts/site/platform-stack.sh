#!/usr/bin/env bash
# platform-stack.sh: writes the demo platform's stack for the test site, the
# one `make demo` deploys and the Kubernetes site test deploys:
#
#   scripts/site/platform-stack.sh --into DIR --registry ADDR [--k8s DIR] [--name NAME]
#
#   - kubernetes: the built-in stack's Kubernetes (v1.26.15, the images
#     under the names manifest/stacks/kubesphere.yaml pins and the kubelet,
#     kubeadm, kubectl, cri-tools and kubernetes-cni RPMs at its versions),
#     built from source by scripts/k8s/build.sh, and harbor, the Harbor
#     stand-in, both as scripts/site/k8s-component.sh prints them;
#   - demo-cni: the stand-in for Calico (podNetwork: deploy installs it in
#     /kubernetes/cni), a DaemonSet of the stack-demo image that writes each
#     node's CNI bridge and routes to the other nodes' pods;
#   - demo-config: a manifest rendered at deploy time with the inventory
#     (template: true);
#   - demo: a local chart (a DaemonSet, a Deployment answering on HTTP with
#     a claim on a hostPath volume, a Job) and the hello image.
#
# ADDR is a registry on this machine's loopback (the fixture registry,
# scripts/lib/fixture-registry.sh) that `bundle build` pulls from: the
# Kubernetes images and the stack-demo image (internal/cmd/stack-demo, one
# layer on an empty base, built here) are pushed there. DIR receives
# stack.yaml and every file it names; `bundle build -f DIR/stack.yaml`
# then builds the bundle. Needs Go, crane and rpm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
site::help "$0" "$@"

usage() {
  echo "usage: scripts/site/platform-stack.sh --into DIR --registry ADDR [--k8s DIR] [--name NAME] (--help says more)" >&2
  exit 2
}
into="" registry="" k8s="" name=platform
while [ $# -gt 0 ]; do
  case $1 in
  --into) into=${2:?--into needs a directory}; shift 2 ;;
  --registry) registry=${2:?--registry needs host:port}; shift 2 ;;
  --k8s) k8s=${2:?--k8s needs a directory scripts/k8s/build.sh made}; shift 2 ;;
  --name) name=${2:?--name needs a stack name}; shift 2 ;;
  *) usage ;;
  esac
done
[ -n "$into" ] && [ -n "$registry" ] || usage
command -v crane >/dev/null || site::die "crane not found: run make tools"
mkdir -p "$into"
into=$(cd "$into" && pwd)
testdata=$repo/internal/deploy/sitetest/testdata

# Kubernetes and Harbor's stand-in.
components=$("$here/k8s-component.sh" --into "$into" --registry "$registry" ${k8s:+--k8s "$k8s"} \
  --stack "$name" --mirror registry.factory.example)

# The stack-demo image: one layer on an empty base, pushed by crane.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/stack-demo" ./internal/cmd/stack-demo)
tar -C "$tmp" --owner=0 --group=0 --mtime=@0 -cf "$tmp/layer.tar" stack-demo
crane append --insecure --oci-empty-base -f "$tmp/layer.tar" -t "$registry/library/stack-demo:1.0" >/dev/null
crane mutate --insecure --entrypoint /stack-demo --set-platform linux/amd64 "$registry/library/stack-demo:1.0" >/dev/null

rm -rf "$into/charts"
mkdir -p "$into/charts"
cp -r "$testdata/stack-demo" "$into/charts/"
cp "$testdata/demo-config.yaml" "$testdata/demo-cni.yaml" "$into/"

# The demo components' images come from registry.factory.example, which
# the same registry mirrors.
{
  echo "# Written by scripts/site/platform-stack.sh: the demo platform for the test site."
  printf '%s\n' "$components"
  cat <<'YAML'
    - name: demo-cni
      podNetwork: true
      manifests: [demo-cni.yaml]
    - name: demo-config
      manifests: [{path: demo-config.yaml, template: true}]
    - name: demo
      images: [registry.factory.example/library/stack-demo:1.0, registry.factory.example/library/hello:1.0]
      charts:
        - {path: charts/stack-demo, namespace: stack-demo}
YAML
} >"$into/stack.yaml"
echo "$into/stack.yaml"
