#!/bin/sh
# install.sh of the Harbor stand-in installer (test site only).
#
# Real Harbor cannot run on this machine, so the test site's bundle carries
# harbor-offline-installer-standin.tgz in place of Harbor's offline
# installer. It has Harbor's layout (harbor/install.sh, with harbor.yml
# written next to it by deploy), so the /harbor phase runs the very same
# commands on it as on Harbor's: extract, write harbor.yml, ./install.sh,
# wait for https://HOSTNAME:PORT/api/v2.0/health. Where Harbor's install.sh
# runs prepare and docker compose up, this one runs harbor-standin (the
# distribution registry behind the Harbor API stand-in) as a systemd
# service. Like Harbor's, it can be run again: it restarts the service.
set -eu
cd "$(dirname "$0")"
dir=$(pwd)
[ -f harbor.yml ] || { echo "install.sh: $dir/harbor.yml not found; copy harbor.yml.tmpl to harbor.yml and edit it" >&2; exit 1; }
cat >/etc/systemd/system/harbor-standin.service <<UNIT
# Written by the Harbor stand-in's install.sh (test site only).
[Unit]
Description=Harbor stand-in: distribution registry behind the Harbor API stand-in
After=network-online.target

[Service]
ExecStart=$dir/harbor-standin --config $dir/harbor.yml --registry $dir/registry
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable harbor-standin.service
systemctl restart harbor-standin.service
echo "install.sh: harbor-standin started"
