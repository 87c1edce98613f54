#!/usr/bin/env bash
# Installs the system packages the test suite needs, if any is missing: PostgreSQL 15 server binaries (contrib modules
# such as pg_stat_statements are part of postgresql-15 on Debian) and the hypopg extension for PostgreSQL 15.
# Idempotent and silent when everything is already present. Debian/Ubuntu (apt) only; needs root (or passwordless sudo)
# when it has to install. Installing never starts a system cluster: the tests start their own servers.
set -euo pipefail
# shellcheck source=lib/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"

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

run_as_root_or_exit ensure-test-deps "missing ${missing[*]}" "$@"

# One install at a time (two test runs may call this together); re-check once we hold the lock.
take_install_lock
if [ ${#reinstall[@]} -eq 0 ] && files_ok; then
  still_missing=()
  for p in "${missing[@]}"; do
    installed "$p" || still_missing+=("$p")
  done
  [ ${#still_missing[@]} -eq 0 ] && exit 0
  missing=("${still_missing[@]}")
fi

echo "ensure-test-deps: installing ${missing[*]}" >&2
deny_service_starts

# Clusters already running before we start are someone's; any that come up during the install are ours to stop.
online_before=''
if command -v pg_lsclusters >/dev/null 2>&1; then
  online_before=$(pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1 "/" $2}' || true)
fi

apt_install "${reinstall[@]}" "${missing[@]}"

if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r ver name; do
    if ! grep -qxF "$ver/$name" <<<"$online_before"; then
      echo "ensure-test-deps: stopping cluster $ver/$name started by the install" >&2
      pg_ctlcluster "$ver" "$name" stop || true
    fi
  done
fi

ensure_postgres_user

if ! files_ok; then
  echo "ensure-test-deps: installed ${missing[*]} but $pg_bin or $pg_lib is still incomplete" >&2
  exit 1
fi
echo "ensure-test-deps: done" >&2
