#!/usr/bin/env bash
# Installs the system packages the test suite needs, if any is missing: PostgreSQL 15 server binaries (contrib modules
# such as pg_stat_statements are part of postgresql-15 on Debian) and the hypopg extension for PostgreSQL 15.
# Idempotent and silent when everything is already present. Debian/Ubuntu (apt) only; needs root (or passwordless sudo)
# when it has to install. Installing never starts a system cluster: the tests start their own servers.
set -euo pipefail

packages=(postgresql-15 postgresql-15-hypopg)
pg_bin=/usr/lib/postgresql/15/bin
pg_lib=/usr/lib/postgresql/15/lib

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
  done
fi

files_ok() {
  [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] && [ -x "$pg_bin/postgres" ] && [ -x "$pg_bin/pg_basebackup" ] &&
    [ -f "$pg_lib/pg_stat_statements.so" ] && [ -f "$pg_lib/hypopg.so" ]
}

if [ ${#missing[@]} -eq 0 ] && files_ok; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: PostgreSQL 15 (server, contrib, hypopg) is missing and this is not an apt-based system;" >&2
  echo "install them by hand so that $pg_bin/initdb and $pg_lib/hypopg.so exist." >&2
  exit 1
fi
# A package can be "installed" with its files gone (e.g. deleted by hand): reinstall all of them then.
reinstall=()
if [ ${#missing[@]} -eq 0 ]; then
  missing=("${packages[@]}")
  reinstall=(--reinstall)
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n "$BASH" "$0" "$@"
  fi
  echo "ensure-test-deps: missing ${missing[*]}; run this script as root (or with sudo): bash $0" >&2
  exit 1
fi

# One install at a time (two test runs may call this together); re-check once we hold the lock.
exec 9>/var/lock/pgmcp-ensure-test-deps.lock
flock 9
if [ ${#reinstall[@]} -eq 0 ] && files_ok; then
  still_missing=()
  for p in "${missing[@]}"; do
    installed "$p" || still_missing+=("$p")
  done
  [ ${#still_missing[@]} -eq 0 ] && exit 0
  missing=("${still_missing[@]}")
fi

echo "ensure-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive

# Deny service starts while installing (exit 101 = action forbidden by policy), restoring whatever policy was there.
policy=/usr/sbin/policy-rc.d
policy_backup=''
if [ -e "$policy" ]; then
  policy_backup=$(mktemp)
  cp -p "$policy" "$policy_backup"
fi
restore_policy() {
  if [ -n "$policy_backup" ]; then
    mv -f "$policy_backup" "$policy"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 0755 "$policy"

# Clusters already running before we start are someone's; any that come up during the install are ours to stop.
online_before=''
if command -v pg_lsclusters >/dev/null 2>&1; then
  online_before=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true)
fi

apt_quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

apt_quiet apt-get -o DPkg::Lock::Timeout=300 update -q
apt_quiet apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${reinstall[@]}" "${missing[@]}"

if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r ver name; do
    if ! grep -qxF "$ver/$name" <<<"$online_before"; then
      echo "ensure-test-deps: stopping cluster $ver/$name started by the install" >&2
      pg_ctlcluster "$ver" "$name" stop || true
    fi
  done
fi

# The servers run as the postgres OS user (PostgreSQL refuses root); the packages create it, but make sure.
if ! id postgres >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

if ! files_ok; then
  echo "ensure-test-deps: installed ${missing[*]} but $pg_bin or $pg_lib is still incomplete" >&2
  exit 1
fi
echo "ensure-test-deps: done" >&2
