# shellcheck shell=bash
# Helpers shared by build-bins.sh and build-validate.sh.

# pin DIR MODULE VERSION: the go.mod in DIR (beside this file) requires
# MODULE at VERSION, as versions.env says.
pin() {
	grep -Eq "^(require )?[[:space:]]*$2 $3\$" "$here/$1/go.mod" ||
		{ echo "${0##*/}: $1/go.mod does not require $2 $3 (versions.env)" >&2; exit 1; }
}

# k8s_ldflags VERSION: the -ldflags of a Kubernetes build: the variables
# hack/lib/version.sh sets, for both version packages, so that
# `kubeadm version` says VERSION and kubeadm picks matching image tags.
k8s_ldflags() {
	local v=$1 major minor p ldf="-s -w"
	major=${v#v}; major=${major%%.*}
	minor=${v#v*.}; minor=${minor%%.*}
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldf="$ldf -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
		ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
		# Not built from the git tree: no commit, rather than the
		# "$Format:%H$" placeholder of the module's sources.
		ldf="$ldf -X $p.gitCommit="
	done
	echo "$ldf"
}

# t NAME CMD...: runs CMD, prints its wall time to stderr.
t() {
	local name=$1 s; shift; s=$(date +%s)
	"$@"; echo "${0##*/}: $name $(( $(date +%s) - s )) s" >&2
}

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false -trimpath"
nice=${APPLIANCE_K8S_NICE:-nice -n 10}
