#!/bin/bash
# build-rpms.sh BINDIR REPODIR KEYFILE: packages the binaries of
# build-bins.sh as signed x86_64 RPMs (kubelet, kubeadm, kubectl,
# cri-tools, kubernetes-cni; specs in rpm/), makes REPODIR a yum repository of them
# (createrepo_c) and writes the public key of the signing key to KEYFILE.
#
# The key is made for this build and thrown away (only its public half is
# kept). Like scripts/rpm-fixtures/build.sh: AutoReqProv off, no scriptlets,
# gzip payload, fixed build host and times; a signing failure stops the
# script. Needs Debian packages: rpm, gnupg, createrepo-c.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: build-rpms.sh BINDIR REPODIR KEYFILE}
repo=${2:?usage: build-rpms.sh BINDIR REPODIR KEYFILE}
keyfile=${3:?usage: build-rpms.sh BINDIR REPODIR KEYFILE}
bin=$(cd "$bin" && pwd)
repo=$(realpath -m "$repo")
keyfile=$(realpath -m "$keyfile")
# shellcheck source=scripts/k8s/versions.env
. "$here/versions.env"
# K8S_RPM_VERSION: the Kubernetes version of the binaries (build.sh
# --previous gives K8S_PREVIOUS_VERSION).
K8S_RPM_VERSION=${K8S_RPM_VERSION:-$K8S_VERSION}
for tool in rpmbuild rpmsign gpg gpgconf createrepo_c; do
	command -v "$tool" >/dev/null || { echo "build-rpms.sh: $tool not found (Debian packages: rpm, gnupg, createrepo-c)" >&2; exit 1; }
done
mkdir -p "$repo" "$(dirname "$keyfile")"

work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
keyname='Appliance Kubernetes Packages <k8s-packages@appliance.invalid>'
gpg --batch --quiet --passphrase '' --quick-gen-key "$keyname" rsa3072 sign never
gpg --batch --armor --export "$keyname" >"$keyfile.tmp"
mv "$keyfile.tmp" "$keyfile"

export SOURCE_DATE_EPOCH
for spec in kubelet kubeadm kubectl cri-tools kubernetes-cni; do
	if ! rpmbuild -bb \
		--target x86_64 \
		--define "_topdir $work/rpmbuild" \
		--define "_rpmdir $repo" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_binary_payload w6.gzdio" \
		--define "debug_package %{nil}" \
		--define "__os_install_post %{nil}" \
		--define "_build_id_links none" \
		--define "_buildhost build.appliance.invalid" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		--define "k8s_version ${K8S_RPM_VERSION#v}" \
		--define "cni_version ${CNI_VERSION#v}" \
		--define "cri_tools_version $CRI_TOOLS_RPM_VERSION" \
		--define "crictl_version $CRICTL_VERSION" \
		--define "k8s_bin $bin" \
		--define "k8s_src $here/rpm" \
		"$here/rpm/$spec.spec" >"$work/rpmbuild-$spec.log" 2>&1; then
		cat "$work/rpmbuild-$spec.log" >&2
		echo "build-rpms.sh: rpmbuild $spec failed" >&2
		exit 1
	fi
done

# rpm's %__gpg is /usr/bin/gpg2 on Debian, which only some gnupg versions
# ship: point it at the gpg on PATH. No RPM leaves here unsigned.
if ! msg=$(rpmsign --define "__gpg $(command -v gpg)" --define "_gpg_name $keyname" --define "_gpg_path $GNUPGHOME" \
	--define "_gpg_digest_algo sha256" --addsign "$repo"/*.rpm 2>&1 >/dev/null) || grep -q '^error:' <<<"$msg"; then
	echo "build-rpms.sh: rpmsign failed:" >&2
	grep -v GPG_TTY <<<"$msg" >&2
	exit 1
fi
createrepo_c --quiet --revision 1 "$repo"
