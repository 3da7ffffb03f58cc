#!/usr/bin/env bash
# build.sh OUTDIR — builds the signed fixture RPM repositories the tests of
# rpms and rpms/repodata (through rpms/internal/rpmfixture) and of
# internal/build run against.
#
# Layout written under OUTDIR:
#   keys/RPM-GPG-KEY-fixture   public key the repos are signed with
#   keys/RPM-GPG-KEY-other     a key no repo trusts (signs "badsig")
#   base/      *.rpm + repodata (gzip metadata)
#   updates/   *.rpm + repodata (xz metadata, sha1 checksums): newer versions,
#              badsig (signed by the other key), nosig (unsigned)
#   variants/{bz2,zst}/repodata  base's metadata in other compressions, with
#              xml:base pointing at file://OUTDIR/base/
#
# Every package is built with AutoReqProv off and no scriptlets, so that the
# whole closure installs into an empty dnf --installroot, and with a gzip
# payload, as CentOS 7's rpm 4.11 needs. Needs Debian packages: rpm, gnupg,
# createrepo-c. Runs in a few seconds; leaves nothing outside OUTDIR.
set -euo pipefail

out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in rpmbuild rpmsign gpg createrepo_c; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (Debian packages: rpm, gnupg, createrepo-c)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"
mkdir -p "$work/specs" "$out/keys" "$out/base" "$out/updates"

gpg --batch --quiet --passphrase '' --quick-gen-key 'Fixture Signing Key <fixture@example.invalid>' rsa2048 sign never
gpg --batch --quiet --passphrase '' --quick-gen-key 'Other Key <other@example.invalid>' rsa2048 sign never
gpg --batch --armor --export 'Fixture Signing Key' >"$out/keys/RPM-GPG-KEY-fixture"
gpg --batch --armor --export 'Other Key' >"$out/keys/RPM-GPG-KEY-other"

# spec NAME VERSION RELEASE ARCH [EPOCH] -- [HEADER LINES...]
# Files: /usr/share/doc-lite/NAME-VERSION plus any "%file PATH" header line.
spec() {
	local name=$1 version=$2 release=$3 arch=$4 epoch=$5
	shift 5
	local f=$work/specs/$name-$version-$release.$arch.spec files=() line
	{
		echo "Name: $name"
		echo "Version: $version"
		echo "Release: $release"
		[ -n "$epoch" ] && echo "Epoch: $epoch"
		echo "Summary: fixture package $name & <friends>"
		echo "License: MIT"
		echo "URL: https://example.invalid/$name"
		echo "Group: Fixtures"
		echo "Vendor: Appliance Fixtures"
		echo "AutoReqProv: no"
		[ "$arch" = noarch ] && echo "BuildArch: noarch"
		for line in "$@"; do
			case $line in
			%file\ *) files+=("${line#%file }") ;;
			*) echo "$line" ;;
			esac
		done
		echo
		echo "%description"
		echo "The $name fixture package, version $version."
		echo "Second line of the description."
		echo
		echo "%install"
		echo "mkdir -p %{buildroot}/usr/share/doc-lite"
		echo "echo '$name $version-$release' > %{buildroot}/usr/share/doc-lite/$name-$version"
		for line in "${files[@]}"; do
			echo "mkdir -p %{buildroot}$(dirname "$line")"
			echo "echo '$name' > %{buildroot}$line"
		done
		echo
		echo "%files"
		echo "/usr/share/doc-lite/$name-$version"
		for line in "${files[@]}"; do echo "$line"; done
	} >"$f"
	echo "$f"
}

base_specs=()
upd_specs=()
b() { base_specs+=("$(spec "$@")"); }
u() { upd_specs+=("$(spec "$@")"); }

# A dependency chain ending in a soname.
b chain-a 1.0 1 x86_64 "" "Requires: chain-b = 1.0-1" "Provides: chain-a-compat = 1.0"
b chain-b 1.0 1 x86_64 "" "Requires: chain-c >= 1.0" "Requires(pre): chain-d"
b chain-c 1.0 1 noarch "" "Requires: libchain.so.1()(64bit)"
b chain-d 1.0 1 noarch ""
b libchain 1.0 1 x86_64 "" "Provides: libchain.so.1()(64bit)" "%file /usr/lib64/libchain.so.1"
b libchain 1.0 1 i686 "" "Provides: libchain.so.1" "%file /usr/lib/libchain.so.1"
# A virtual provide.
b mta-lite 2.0 1 noarch "" "Provides: MTA" "Provides: smtpdaemon" "Conflicts: sendmail" "Obsoletes: mta-old < 2.0" \
	"Recommends: cron-lite" "Suggests: foo-data >= 1.0" "Supplements: chain-a" "Enhances: footool"
b cron-lite 1.0 1 x86_64 "" "Requires: MTA" "%file /usr/sbin/crond-lite"
# File requires: one in filelists only, one in primary (a bin path).
b foo-data 1.0 1 noarch "" "%file /usr/share/foo/data"
b foo-viewer 1.0 1 x86_64 "" "Requires: /usr/share/foo/data"
b footool 1.0 1 x86_64 "" "%file /usr/bin/footool" "%file /etc/footool.conf"
b foo-wrapper 1.0 1 noarch "" "Requires: /usr/bin/footool"
# Versioned requires; libver has a newer version in updates.
b libver 1.0 1 x86_64 "" "Provides: libver.so.1()(64bit)"
b app-v 1.0 1 x86_64 "" "Requires: libver >= 2.0"
b app-old 1.0 1 x86_64 "" "Requires: libver < 2.0"
# Pins: pin-me 1.0-1 and 1.0-2 here, 1.1-1 in updates.
b pin-me 1.0 1 noarch ""
b pin-me 1.0 2 noarch ""
# Epoch beats version: epoch-pkg 2:0.9 here, 1:5.0 in updates.
b epoch-pkg 0.9 1 noarch 2
# Requires satisfied only by the rpmBase list.
b uses-base 1.0 1 x86_64 "" "Requires: glibc" "Requires: bash >= 4.0" "Requires: /bin/sh" "Requires: libc.so.6()(64bit)"
# Rich dependency.
b rich-dep 1.0 1 noarch "" "Requires: (mta-lite or postfix)"
# Unsatisfiable: broken-top → broken-app → libmissing.so.3()(64bit).
b broken-app 1.0 1 x86_64 "" "Requires: libmissing.so.3()(64bit)"
b broken-top 1.0 1 noarch "" "Requires: broken-app"
b broken-other 1.0 1 noarch "" "Requires: no-such-thing >= 3"
# A longer chain of plain packages.
for i in 1 2 3 4 5 6; do
	next=$((i + 1))
	if [ $i -lt 6 ]; then b "step-$i" 1.$i 1 noarch "" "Requires: step-$next"; else b "step-$i" 1.$i 1 noarch ""; fi
done

u libver 2.1 1 x86_64 "" "Provides: libver.so.1()(64bit)" "Provides: libver.so.2()(64bit)"
u pin-me 1.1 1 noarch ""
u epoch-pkg 5.0 1 noarch 1
u chain-d 1.1 1 noarch ""
u extra-tool 3.0 1 x86_64 "" "Requires: step-1" "%file /usr/bin/extra-tool"
u badsig 1.0 1 noarch ""
u nosig 1.0 1 noarch ""

build() { # build DESTDIR SPEC...
	local dest=$1
	shift
	rpmbuild --quiet -bb \
		--define "_topdir $work/rpmbuild" \
		--define "_rpmdir $dest" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_binary_payload w9.gzdio" \
		--define "debug_package %{nil}" \
		--define "__os_install_post %{nil}" \
		--define "_buildhost fixture.example.invalid" \
		--define "source_date_epoch_from_changelog 0" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		"$@" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; return 1; }
}
export SOURCE_DATE_EPOCH=1700000000
x86=() i686=()
for s in "${base_specs[@]}"; do
	case $s in *.i686.spec) i686+=("$s") ;; *) x86+=("$s") ;; esac
done
build "$out/base" "${x86[@]}"
build "$out/base" --target i686 "${i686[@]}"
build "$out/updates" "${upd_specs[@]}"

# rpm's %__gpg is /usr/bin/gpg2 on Debian, which only some gnupg versions
# ship: point it at the gpg on PATH. A signing failure stops the script, so
# no test ever runs on unsigned fixtures by mistake.
GPG=$(command -v gpg)
sign() { # sign KEYNAME [rpmsign args...] FILE...
	local key=$1 msg
	shift
	if ! msg=$(rpmsign --define "__gpg $GPG" --define "_gpg_name $key" --define "_gpg_path $GNUPGHOME" \
		--define "_gpg_digest_algo sha256" --addsign "$@" 2>&1 >/dev/null) || grep -q '^error:' <<<"$msg"; then
		echo "rpm-fixtures: rpmsign with '$key' failed:" >&2
		grep -v GPG_TTY <<<"$msg" >&2
		exit 1
	fi
}
# Header-only (v4, rpm's default) signatures for base; header-only plus the
# legacy header+payload (--rpmv3) signatures for updates.
sign 'Fixture Signing Key' "$out"/base/*.rpm
upd=()
for f in "$out"/updates/*.rpm; do
	case $f in */badsig-* | */nosig-*) ;; *) upd+=("$f") ;; esac
done
sign 'Fixture Signing Key' --rpmv3 "${upd[@]}"
sign 'Other Key' "$out"/updates/badsig-*.rpm

createrepo_c --quiet --revision 1 "$out/base"
# updates: sha1 package checksums and xz metadata, as some older repos have.
createrepo_c --quiet --revision 1 --checksum sha1 --general-compress-type xz "$out/updates"
mkdir -p "$out/variants/bz2" "$out/variants/zst"
createrepo_c --quiet --revision 1 --no-database --general-compress-type bz2 --baseurl "file://$out/base/" \
	-o "$out/variants/bz2" "$out/base"
# createrepo_c 0.17 cannot write zstd: recompress the bz2 variant and patch
# repomd.xml's checksums, sizes and locations.
cp "$out/variants/bz2/repodata/repomd.xml" "$out/variants/zst/repomd.xml.tmp"
mkdir -p "$out/variants/zst/repodata"
for f in "$out"/variants/bz2/repodata/*.xml.bz2; do
	old=$(sha256sum "$f" | cut -d' ' -f1)
	base=$(basename "$f" .xml.bz2)
	kind=${base#*-}
	tmp=$out/variants/zst/repodata/$kind.xml.zst
	bzip2 -dc "$f" | zstd -q -19 -o "$tmp"
	new=$(sha256sum "$tmp" | cut -d' ' -f1)
	size=$(stat -c %s "$tmp")
	mv "$tmp" "$out/variants/zst/repodata/$new-$kind.xml.zst"
	sed -i -e "/$old/,/<\/data>/ s|<size>[0-9]*</size>|<size>$size</size>|" \
		-e "s|$old-$kind.xml.bz2|$new-$kind.xml.zst|; s|$old|$new|" "$out/variants/zst/repomd.xml.tmp"
done
mv "$out/variants/zst/repomd.xml.tmp" "$out/variants/zst/repodata/repomd.xml"
rpms=("$out"/base/*.rpm "$out"/updates/*.rpm)
echo "fixture repos in $out: ${#rpms[@]} RPMs"
