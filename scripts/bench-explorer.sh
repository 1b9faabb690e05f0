#!/usr/bin/env bash
# bench-explorer.sh — the message explorer's searches at volume; run it
# with `make bench-explorer`. Figures in docs/benchmarks.md.
#
# Uses database crossdock_volume on the project-local cluster (scripts/pg.sh),
# creating and migrating it when missing and filling it once with
# `crossdock seed-volume` (BENCH_MESSAGES, default 5,000,000, and
# BENCH_EXCEPTIONS, default 1,000,000: several minutes on two cores). The
# database is kept, so later runs only measure; drop it with
#   psql "$(scripts/pg.sh test-url)" -c 'drop database crossdock_volume'
# Then runs BenchmarkExplorerSearch (jobs/insight/explorer_volume_bench_test.go)
# with EXPLAIN (ANALYZE, BUFFERS) of one search of each kind, and prints the
# machine's load beside the figures.
#
# Settings (environment): BENCH_MESSAGES, BENCH_EXCEPTIONS, BENCH_ITERATIONS
# (iterations per search kind, 300), BENCH_DATABASE (crossdock_volume).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

messages="${BENCH_MESSAGES:-5000000}"
exceptions="${BENCH_EXCEPTIONS:-1000000}"
iterations="${BENCH_ITERATIONS:-300}"
db="${BENCH_DATABASE:-crossdock_volume}"

scripts/pg.sh start >&2
admin="$(scripts/pg.sh test-url)"
url="${admin%/postgres*}/${db}?sslmode=disable"

go build -o bin/crossdock ./cmd/crossdock
if [ "$(psql "$admin" -Atc "select count(*) from pg_database where datname = '$db'")" = 0 ]; then
  psql "$admin" -qc "create database $db"
fi
DATABASE_URL="$url" bin/crossdock migrate
if [ "$(psql "$url" -Atc 'select exists (select 1 from messages)')" = f ]; then
  echo "bench-explorer: seeding $messages messages and $exceptions exceptions into $db" >&2
  DATABASE_URL="$url" bin/crossdock seed-volume --messages "$messages" --exceptions "$exceptions"
fi
psql "$url" -Atc "select 'messages: ' || count(*) from messages; select 'exceptions: ' || count(*) from exceptions;
  select 'size: ' || pg_size_pretty(pg_database_size(current_database()))"
echo "machine: $(nproc) CPUs; $(uptime)"
CROSSDOCK_BENCH_DATABASE_URL="$url" CROSSDOCK_BENCH_EXPLAIN=1 \
  go test -run '^$' -bench BenchmarkExplorerSearch -benchtime "${iterations}x" -count 1 -v ./jobs/insight/
echo "machine after: $(uptime)"
