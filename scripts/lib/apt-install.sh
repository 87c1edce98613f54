# Shared by scripts/ensure-test-deps.sh and scripts/cluster/install.sh (sourced, not run): installing Debian packages
# as root, one install at a time, without letting the packages start any service.

# Re-runs the calling script as root through passwordless sudo, or says how to run it and exits 1. Args: the message
# prefix, what is missing, then the script's own arguments.
run_as_root_or_exit() {
  local who=$1 what=$2
  shift 2
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n "$BASH" "$0" "$@"
  fi
  echo "$who: $what; run as root (or with sudo): bash $0" >&2
  exit 1
}

# One install at a time (two test runs may install together): holds the lock until the script ends.
take_install_lock() {
  exec 9>/var/lock/pgmcp-ensure-test-deps.lock
  flock 9
}

# Denies service starts while installing (policy-rc.d exit 101 = forbidden by policy) and puts back whatever policy
# was there when the script exits.
deny_service_starts() {
  policy=/usr/sbin/policy-rc.d
  policy_backup=''
  if [ -e "$policy" ]; then
    policy_backup=$(mktemp)
    cp -p "$policy" "$policy_backup"
  fi
  trap restore_service_policy EXIT
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
}

restore_service_policy() {
  if [ -n "$policy_backup" ]; then
    mv -f "$policy_backup" "$policy"
  else
    rm -f "$policy"
  fi
}

# Runs a command, showing its output only when it fails.
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

# apt-get update, then install the arguments (packages, and --reinstall when given) without recommends.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  quiet apt-get -o DPkg::Lock::Timeout=300 update -q
  quiet apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"
}

# PostgreSQL, Patroni and PgBouncer run as the postgres OS user (they refuse root); the packages create it, but make sure.
ensure_postgres_user() {
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}
