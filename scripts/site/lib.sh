# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file
# Functions shared by the test-site scripts (build-image.sh, up.sh, down.sh).
# Sourced, never run. Everything here is read-only except where named.

SITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SITE_DIR/../.." && pwd)

# The image's repository name; the tag is a hash of what builds it.
SITE_IMAGE_REPO=appliance-site-host
SITE_BASE_REPO=appliance-site-base

site::log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
site::die() { site::log "error: $*"; exit 1; }

# site::need CMD PACKAGE: fail naming the Debian package that provides CMD.
site::need() {
  command -v "$1" >/dev/null 2>&1 ||
    site::die "$1 is not installed; install the Debian package $2 (apt-get install -y $2)"
}

# site::suite prints the Debian suite to bootstrap: $SITE_SUITE, or the
# machine's own release codename.
site::suite() {
  if [ -n "${SITE_SUITE:-}" ]; then
    echo "$SITE_SUITE"
    return
  fi
  # shellcheck disable=SC1091
  (. /etc/os-release && echo "${VERSION_CODENAME:?/etc/os-release has no VERSION_CODENAME; set SITE_SUITE}")
}

# site::mirror SUITE prints the Debian mirror URL that the machine's own apt
# sources use for SUITE. The URL is read at run time and never written to a
# file: the repository must not name a package host. $SITE_MIRROR overrides.
site::mirror() {
  local suite=$1 uri=""
  if [ -n "${SITE_MIRROR:-}" ]; then
    echo "$SITE_MIRROR"
    return
  fi
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(site::mirror_from_deb822 "$suite" <"$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      uri=$(site::mirror_from_list "$suite" <"$f")
      [ -n "$uri" ] && break
    done
  fi
  [ -n "$uri" ] || site::die "no Debian mirror for suite $suite in the machine's apt sources (/etc/apt/sources.list.d/*.sources URIs:, /etc/apt/sources.list deb lines); set SITE_MIRROR"
  echo "$uri"
}

# site::mirror_from_deb822 SUITE reads a deb822 .sources file on stdin and
# prints the first URI of the first enabled "deb" stanza that lists SUITE.
site::mirror_from_deb822() {
  awk -v suite="$1" '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uri != "" && found == "") found = uri
      types = ""; suites = ""; uri = ""; enabled = ""
    }
    /^[ \t]*$/ { flush(); next }
    /^#/ { next }
    tolower($1) == "types:" { $1 = ""; types = $0; sub(/^ +/, "", types) }
    tolower($1) == "uris:" { uri = $2 }
    tolower($1) == "suites:" { $1 = ""; suites = $0; sub(/^ +/, "", suites) }
    tolower($1) == "enabled:" { enabled = tolower($2) }
    END { flush(); if (found != "") print found }
  '
}

# site::mirror_from_list SUITE reads a one-line-style sources.list on stdin
# and prints the URI of the first "deb" line for SUITE.
site::mirror_from_list() {
  awk -v suite="$1" '
    $1 != "deb" { next }
    { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
    $(i + 1) == suite { print $i; exit }
  '
}

# site::hash FILE... prints the first 12 hex digits of a sha256 over the
# names and contents of the files, in the order given.
site::hash() {
  local f
  for f in "$@"; do
    printf '%s\n' "${f#"$SITE_DIR"/}"
    cat "$f"
  done | sha256sum | cut -c1-12
}

# site::packages prints packages.txt without comments, one package a line,
# sorted, so the cache key does not depend on comments or order.
site::packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$SITE_DIR/packages.txt" | grep -v '^$' | sort -u
}

site::ip2int() {
  local IFS=. a b c d
  read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

# site::overlaps A[/N] B[/M]: true if the two IPv4 networks share an address.
site::overlaps() {
  local a=${1%/*} n=${1#*/} b=${2%/*} m=${2#*/}
  [ "$n" = "$1" ] && n=32
  [ "$m" = "$2" ] && m=32
  local p=$((n < m ? n : m))
  local mask=$(((0xffffffff << (32 - p)) & 0xffffffff))
  [ $(($(site::ip2int "$a") & mask)) -eq $(($(site::ip2int "$b") & mask)) ]
}

# site::help SCRIPT ARGS...: if ARGS hold -h or --help, print SCRIPT's
# header comment (its usage) on stdout and exit 0.
site::help() {
  local script=$1 a
  shift
  for a in "$@"; do
    case $a in
    -h | --help)
      awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$script"
      exit 0
      ;;
    esac
  done
}

# site::validate_name NAME fails unless NAME can name containers and networks.
site::validate_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] ||
    site::die "site name \"$1\" is not valid: use 1-31 of a-z, 0-9 and -, starting with a letter or digit"
}

# The site's hosts: name, role, last octet of its address. site::set_masters
# N makes it N masters (1 to 9, master-K at .1K); the default is 2.
SITE_HOSTS=(
  "deploy deploy 10"
  "master-1 master 11"
  "master-2 master 12"
  "worker-1 worker 21"
)
site::set_masters() {
  [[ $1 =~ ^[1-9]$ ]] || site::die "--masters $1: give 1 to 9"
  local k
  SITE_HOSTS=("deploy deploy 10")
  for ((k = 1; k <= $1; k++)); do SITE_HOSTS+=("master-$k master 1$k"); done
  SITE_HOSTS+=("worker-1 worker 21")
}
SITE_VIP_OCTET=100

site::network() { echo "appliance-site-$1"; }
site::container() { echo "appliance-site-$1-$2"; }

# site::state_dir NAME [DIR] prints the absolute state directory.
site::state_dir() {
  local dir=${2:-${SITE_STATE:-$REPO_DIR/out/site/$1}}
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}

# site::bridge NAME prints the Linux bridge of the site's network, if any.
site::bridge() {
  local id
  id=$(docker network inspect -f '{{.Id}}' "$(site::network "$1")" 2>/dev/null) || return 0
  echo "br-${id:0:12}"
}

# The rule that lets link-local multicast (VRRP adverts to 224.0.0.18) cross
# the site's own bridge. Docker's isolation rules for an --internal network
# drop every packet whose destination is outside the subnet, multicast
# included, which would leave every keepalived instance MASTER. The rule
# lives in DOCKER-USER, the chain Docker leaves to users, and only matches
# traffic that enters and leaves the same bridge: nothing leaves the site.
site::multicast_rule() {
  echo "DOCKER-USER -i $1 -o $1 -d 224.0.0.0/4 -j ACCEPT"
}

# The rule that lets pod traffic cross the site's own bridge: a pod's packet
# to a pod on another host has addresses from the pod CIDR, outside the
# site's subnet, and Docker's isolation rules would drop it. Like the
# multicast rule, it only matches traffic that enters and leaves the same
# bridge.
site::pod_rule() {
  echo "DOCKER-USER -i $1 -o $1 -j ACCEPT"
}
