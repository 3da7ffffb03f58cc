#!/bin/bash
# Runs inside a container of the bootstrapped base image (build-image.sh
# mounts scripts/site at /site-src read-only, on no network) and turns the
# Debian root filesystem into a test-site host. build-image.sh commits the
# result. Not idempotent on purpose: it always starts from the base image.
set -euo pipefail
src=/site-src

# The files that make this Debian an EL-like test host, owned by root.
cp -R --no-preserve=ownership "$src/rootfs/." /
chmod 0440 /etc/sudoers.d/appliance-site-admin
chmod 0755 /usr/local/sbin/site-init /usr/local/sbin/update-ca-trust

# yum is dnf, as on EL 8.
[ -e /usr/bin/yum ] || ln -s dnf /usr/bin/yum
mkdir -p /etc/yum.repos.d /etc/pki/ca-trust/source/anchors /etc/pki/rpm-gpg /etc/sysconfig

# chronyd reads the EL path (see /etc/default/chrony).
[ -e /etc/chrony.conf ] || ln -s chrony/chrony.conf /etc/chrony.conf

# The non-root login; site-init sets its password and authorized key.
id admin >/dev/null 2>&1 || useradd --create-home --shell /bin/bash admin

# The EL base-system capabilities, recorded in the rpmdb.
top=$(mktemp -d)
rpmbuild -bb --quiet --define "_topdir $top" --define "_buildhost appliance-test-host" /usr/local/share/appliance-site/base-provides.spec
rpm -i --quiet "$top"/RPMS/x86_64/appliance-test-host-base-*.rpm 2>&1 | grep -v -e 'should not be used directly' -e 'assuming you know' || true
rpm -q appliance-test-host-base >/dev/null && [ ! -e /root/.rpmdb ]
rm -rf "$top"

# Services a fresh EL host does not run until the deployer configures them.
systemctl disable haproxy.service keepalived.service containerd.service docker-registry.service 2>/dev/null
# Units that have no job in a container.
systemctl mask getty@tty1.service console-getty.service e2scrub_reap.service \
  systemd-udevd.service systemd-udev-trigger.service 2>/dev/null || true

# Host keys are made per container by site-init, never shared through the
# image; machine-id is made per container by systemd.
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id

# Debian's apt sources name the mirror the image was bootstrapped from; the
# site is air-gapped and its hosts use yum, so drop them.
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/*
