#!/usr/bin/env bash
# Installs what the cluster harness runs, when any of it is missing: Debian's etcd-server and etcd-client, patroni,
# haproxy and pgbouncer (PostgreSQL 15 itself comes from scripts/ensure-test-deps.sh). Silent when everything is
# present. apt-based systems only; needs root (or passwordless sudo) to install. Nothing is started by the install
# (a policy-rc.d denies service starts; the harness runs its own processes).
set -euo pipefail
# shellcheck source=../lib/apt-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-install.sh"

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
run_as_root_or_exit 'cluster install' "${packages[*]} are missing" "$@"

# One install at a time (the same lock as ensure-test-deps.sh); re-check once we hold it.
take_install_lock
programs_ok && exit 0

echo "cluster install: installing ${packages[*]}" >&2
deny_service_starts
reinstall=()
all_installed=1
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || all_installed=0
done
[ "$all_installed" = 1 ] && reinstall=(--reinstall)
apt_install "${reinstall[@]}" "${packages[@]}"
ensure_postgres_user
programs_ok || { echo "cluster install: installed but some programs are still missing: ${programs[*]}" >&2; exit 1; }
echo "cluster install: done" >&2
