#!/usr/bin/env bash
# Installs what the cluster harness runs, when any of it is missing: Debian's etcd-server and etcd-client, patroni,
# haproxy and pgbouncer (PostgreSQL 15 itself comes from scripts/ensure-test-deps.sh). Silent when everything is
# present. apt-based systems only; needs root (or passwordless sudo) to install. Nothing is started by the install
# (a policy-rc.d denies service starts; the harness runs its own processes).
set -euo pipefail

packages=(etcd-server etcd-client patroni haproxy pgbouncer)
programs=(/usr/bin/etcd /usr/bin/etcdctl /usr/bin/patroni /usr/sbin/haproxy /usr/sbin/pgbouncer)

programs_ok() {
  local p
  for p in "${programs[@]}"; do [ -x "$p" ] || return 1; done
}

programs_ok && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "cluster install: ${packages[*]} are needed and this is not an apt-based system; install them by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n "$BASH" "$0" "$@"
  fi
  echo "cluster install: ${packages[*]} are missing; run as root (or with sudo): bash $0" >&2
  exit 1
fi

# One install at a time (the same lock as ensure-test-deps.sh); re-check once we hold it.
exec 9>/var/lock/pgmcp-ensure-test-deps.lock
flock 9
programs_ok && exit 0

echo "cluster install: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
policy_backup=''
if [ -e "$policy" ]; then
  policy_backup=$(mktemp)
  cp -p "$policy" "$policy_backup"
fi
restore_policy() {
  if [ -n "$policy_backup" ]; then mv -f "$policy_backup" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 0755 "$policy"

quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
quiet apt-get -o DPkg::Lock::Timeout=300 update -q
reinstall=()
all_installed=1
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || all_installed=0
done
[ "$all_installed" = 1 ] && reinstall=(--reinstall)
quiet apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${reinstall[@]}" "${packages[@]}"

if ! id postgres >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
programs_ok || { echo "cluster install: installed but some programs are still missing: ${programs[*]}" >&2; exit 1; }
echo "cluster install: done" >&2
