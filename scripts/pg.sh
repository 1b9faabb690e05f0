#!/usr/bin/env bash
# pg.sh — a project-local PostgreSQL for `make run` and `make test`.
#
#   scripts/pg.sh start   initdb once under .data/postgres, start it, create the
#                         databases; idempotent (a running cluster is reused)
#   scripts/pg.sh stop [fast|immediate]
#                         stop it (fast by default; immediate is a crash, as
#                         the database-outage test wants)
#   scripts/pg.sh url     print the DATABASE_URL of the dev database
#   scripts/pg.sh test-url  print the admin URL the test suite creates its databases from
#
# The cluster asks for a password on TCP and on its socket alike
# (scram-sha-256): the superuser postgres's password is generated once, 32
# random bytes as hex, into .data/pg-password (mode 0600, readable only by
# whoever runs this script), and url/test-url print URLs that carry it. So
# another account on the machine cannot become the cluster's superuser
# (and read or change every database) just by connecting. A cluster created
# before this (trust for every local connection) is moved over on its next
# start: postgres gets the password and pg_hba.conf asks for it.
#
# The cluster listens on 127.0.0.1:${CROSSDOCK_PG_PORT:-54329} and a socket under
# .data/postgres-run, so it never clashes with a system PostgreSQL.
# CROSSDOCK_PG_DIR moves the whole cluster (data, socket, log) out of .data/:
# the e2e database-outage test starts and stops a cluster of its own there so
# that it never stops the one the rest of the suite uses. Server binaries
# come from Debian's postgresql package, installed when missing. PostgreSQL refuses
# to run as root, so as root every server command runs as the postgres user.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${CROSSDOCK_PG_DIR:-$root/.data}"
data="$base/postgres"
sock="$base/postgres-run"
port="${CROSSDOCK_PG_PORT:-54329}"
log="$base/postgres.log"
pwfile="$base/pg-password"

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

ensure_server() {
  if bindir="$(find_bindir)"; then return 0; fi
  echo "pg.sh: PostgreSQL server binaries not found; installing Debian's postgresql package" >&2
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bindir="$(find_bindir)" || { echo "pg.sh: postgresql installed but initdb not found under /usr/lib/postgresql" >&2; exit 1; }
}

# as_owner runs a server command as the cluster's owner: postgres when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ensure_password makes the password file once: 32 random bytes as hex, so
# it needs no escaping in a URL.
ensure_password() {
  if [ -s "$pwfile" ]; then return 0; fi
  mkdir -p "$base"
  local pw
  pw="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  [ "${#pw}" = 64 ] || { echo "pg.sh: could not read 32 random bytes from /dev/urandom" >&2; exit 1; }
  (umask 077; printf '%s\n' "$pw" >"$pwfile.tmp")
  mv "$pwfile.tmp" "$pwfile"
  new_password=1
}

password() {
  ensure_password
  tr -d '\n' <"$pwfile"
}

psql_admin() {
  PGPASSWORD="$(password)" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres "$@"
}

# trusting says whether pg_hba.conf still lets local connections in
# without a password (a cluster made by an older pg.sh).
trusting() {
  grep -Eq '^[[:space:]]*(local|host)[^#]*[[:space:]]trust[[:space:]]*$' "$data/pg_hba.conf"
}

# require_password moves a trusting cluster (running) to password
# authentication: postgres gets the password, every trust line of
# pg_hba.conf becomes scram-sha-256, and the server reloads.
require_password() {
  echo "pg.sh: the cluster in $data lets every local user in without a password; setting one (in $pwfile)" >&2
  # Sent on stdin, so it never shows in a process list.
  psql_admin <<SQL
set password_encryption = 'scram-sha-256';
alter role postgres password '$(password)';
SQL
  as_owner sed -i -E '/^[[:space:]]*#/! s/([[:space:]])trust[[:space:]]*$/\1scram-sha-256/' "$data/pg_hba.conf"
  as_owner "$bindir/pg_ctl" -D "$data" reload >/dev/null
  if trusting; then
    echo "pg.sh: $data/pg_hba.conf still has trust lines; edit them to scram-sha-256 and run scripts/pg.sh start again" >&2
    exit 1
  fi
}

start() {
  ensure_server
  mkdir -p "$base"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    # postgres must be able to reach .data even when the checkout is under
    # /root (or CROSSDOCK_PG_DIR is a private temporary directory).
    d="$base"; while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  fi
  new_password=0
  ensure_password
  if [ ! -s "$data/PG_VERSION" ]; then
    echo "pg.sh: creating a cluster in $data (password in $pwfile)" >&2
    mkdir -p "$data"
    # initdb reads the password from a file its user can read: as root
    # that is postgres, which may not read $pwfile, so a copy it owns is
    # made for it and removed at once.
    local initpw="$base/.initdb-password"
    (umask 077; cp "$pwfile" "$initpw")
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data" "$initpw"; fi
    if ! as_owner "$bindir/initdb" -D "$data" -U postgres --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
      --pwfile="$initpw" -E UTF8 --locale=C.UTF-8 >/dev/null; then
      rm -f "$initpw"
      exit 1
    fi
    rm -f "$initpw"
    cat >>"$data/postgresql.conf" <<CONF
# crossdock: project-local cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
fsync = on
shared_buffers = 256MB
CONF
  fi
  # Sized for a write-heavy pipeline, added once (also to clusters made
  # before it): shared buffers of an eighth of the machine's memory (at
  # most 2 GB), so a database of a few million messages keeps its indexes
  # in them; checkpoints by time, not by WAL volume — at the default
  # max_wal_size (1 GB) the pipeline under load checkpointed every 40 s,
  # and the full page images written after each slowed it
  # (docs/benchmarks.md).
  if ! grep -q '^# crossdock: memory and checkpoints' "$data/postgresql.conf"; then
    mem_kb="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null || echo 0)"
    buffers_mb=$(( mem_kb / 8 / 1024 ))
    [ "$buffers_mb" -gt 2048 ] && buffers_mb=2048
    [ "$buffers_mb" -lt 128 ] && buffers_mb=128
    cat >>"$data/postgresql.conf" <<CONF
# crossdock: memory and checkpoints
shared_buffers = ${buffers_mb}MB
max_wal_size = 4GB
checkpoint_timeout = 15min
CONF
  fi
  mkdir -p "$sock"
  touch "$log"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$sock" "$log"; fi
  if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    :
  else
    as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
  fi
  if trusting; then
    require_password
  elif [ "$new_password" = 1 ] && [ -s "$data/PG_VERSION" ] && ! psql_admin -tAc 'select 1' >/dev/null 2>&1; then
    rm -f "$pwfile"
    echo "pg.sh: the cluster in $data asks for a password, but $pwfile is missing; restore it, or remove $data to start over" >&2
    exit 1
  fi
  for db in crossdock; do
    if ! psql_admin -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
      psql_admin -c "create database $db"
    fi
  done
}

stop() {
  local mode="${1:-fast}"
  case "$mode" in fast|immediate|smart) ;; *) echo "pg.sh: stop mode must be fast, immediate or smart" >&2; exit 2 ;; esac
  bindir="$(find_bindir)" || exit 0
  if [ -s "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$data" -m "$mode" -w stop >/dev/null
    echo "pg.sh: stopped" >&2
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  url) echo "postgres://postgres:$(password)@127.0.0.1:$port/crossdock?sslmode=disable" ;;
  test-url) echo "postgres://postgres:$(password)@127.0.0.1:$port/postgres?sslmode=disable" ;;
  *) echo "usage: $0 start|stop [fast|immediate]|url|test-url" >&2; exit 2 ;;
esac
