#!/usr/bin/env bash
# install-tools.sh installs the command-line tools the tests and CI use:
# crane, the cosign CLI, the helm CLI and staticcheck.
#
# Usage: scripts/install-tools.sh [BIN_DIR]
#   BIN_DIR defaults to "$(go env GOPATH)/bin".
#
# Every tool is built with `go install MODULE/cmd/X@VERSION` from the Go module
# proxy, in a temporary directory outside this repository, so go.mod and
# go.sum are never touched. The script is idempotent: a tool whose binary in
# BIN_DIR was already built from the wanted module version is skipped.
# crane is pinned to the go-containerregistry version in go.mod, so the CLI
# and the library the code links agree.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin_dir=${1:-$(go env GOPATH)/bin}
mkdir -p "$bin_dir"
bin_dir=$(cd "$bin_dir" && pwd)

COSIGN_VERSION=v2.6.5
HELM_VERSION=v3.22.0
STATICCHECK_VERSION=v0.8.2
CRANE_VERSION=$(cd "$repo_root" && GOFLAGS= go list -m -f '{{.Version}}' github.com/google/go-containerregistry)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# module_version BINARY prints the version of the main module BINARY was built
# from, or nothing when BINARY is missing or carries no build information.
module_version() {
	[ -x "$1" ] || return 0
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# install NAME PACKAGE VERSION builds PACKAGE@VERSION into bin_dir as NAME,
# unless the binary there already comes from VERSION.
install() {
	local name=$1 pkg=$2 version=$3
	local have
	have=$(module_version "$bin_dir/$name")
	if [ "$have" = "$version" ]; then
		echo "$name $version: already installed in $bin_dir"
		return 0
	fi
	echo "$name: installing $pkg@$version into $bin_dir (have: ${have:-none})"
	(cd "$work" && GOFLAGS= GOBIN="$bin_dir" CGO_ENABLED=0 go install "$pkg@$version")
}

install crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
install staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
install cosign github.com/sigstore/cosign/v2/cmd/cosign "$COSIGN_VERSION"

echo "--- installed versions"
"$bin_dir/crane" version
"$bin_dir/staticcheck" -version
"$bin_dir/helm" version --template '{{.Version}}{{"\n"}}'
"$bin_dir/cosign" version 2>&1 | grep -E '^(GitVersion|GoVersion):' || "$bin_dir/cosign" version
