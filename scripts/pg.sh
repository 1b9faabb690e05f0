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

psql_admin() {
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres "$@"
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
  if [ ! -s "$data/PG_VERSION" ]; then
    echo "pg.sh: creating a cluster in $data" >&2
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
    as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
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
  url) echo "postgres://postgres@127.0.0.1:$port/crossdock?sslmode=disable" ;;
  test-url) echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" ;;
  *) echo "usage: $0 start|stop [fast|immediate]|url|test-url" >&2; exit 2 ;;
esac
