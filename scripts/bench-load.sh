#!/usr/bin/env bash
# bench-load.sh — load test of the real server; run it with
# `make bench-load`. Figures and method in docs/benchmarks.md.
#
# Builds bin/crossdock, creates a fresh database on the project-local cluster
# (scripts/pg.sh), migrates it, starts `crossdock serve` with the demo (flow
# storefront-orders deployed to dev, delivering to the demo's fake ERP with
# failures turned off), creates an API key without a practical rate limit,
# then drives the trigger with wrk (64 connections, 30 s, a Lua script that
# makes every body a new order) and reports accepts/s and latency
# percentiles. It then waits for the accepted messages to be delivered, and
# finally runs `pgbench -N` on the same database and machine as the ceiling.
# The database is dropped on exit.
#
# Settings (environment): BENCH_CONNECTIONS (64), BENCH_DURATION (30s),
# BENCH_THREADS (2), BENCH_WARMUP (10s of load before the measured run, left
# out of every figure; 0 for none), BENCH_PGBENCH_CLIENTS (64), BENCH_DRAIN_TIMEOUT (120,
# seconds), BENCH_PORT (18080), BENCH_TARGETS_PORT (18089), BENCH_BIN (a
# crossdock binary to test instead of building bin/crossdock, for before and
# after runs of two commits back to back), BENCH_SERVE_ARGS (e.g.
# --no-workers to measure intake alone; the drain is then skipped),
# BENCH_PGBENCH (1; 0 skips the pgbench ceiling, for quick A/B runs),
# BENCH_KEEP (0; 1 keeps the database for a look at its plans and sizes),
# BENCH_SQL (SQL run after migrating, to try a schema or storage change);
# CROSSDOCK_METRICS_ADDR (e.g. 127.0.0.1:18099) adds the server's own
# answer times for the trigger beside wrk's; BENCH_RATE (e.g. 3000) sends
# that many requests a second, open loop, with bench/cmd/loadgen (vegeta)
# over at most BENCH_CONNECTIONS connections instead of wrk's as-fast-as-
# answered loop, warm-up included: the latency a source system sending at
# that rate sees, rather than that of a saturated server; BENCH_SEQUENCE
# (0; 1 redeploys the demo flow with a sequence key of 10,000 distinct
# values, keys.sequence "string(int(source.id) % 10000)", so its
# deliveries go through the sequence lanes: run it and a BENCH_SEQUENCE=0
# run back to back to compare ordered with unordered).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

conns="${BENCH_CONNECTIONS:-64}"
duration="${BENCH_DURATION:-30s}"
threads="${BENCH_THREADS:-2}"
pgclients="${BENCH_PGBENCH_CLIENTS:-64}"
drain_timeout="${BENCH_DRAIN_TIMEOUT:-120}"
warmup="${BENCH_WARMUP:-10s}"
port="${BENCH_PORT:-18080}"
targets_port="${BENCH_TARGETS_PORT:-18089}"

need() { command -v "$1" >/dev/null || { echo "bench-load: $1 not found; $2" >&2; exit 1; }; }
if ! command -v wrk >/dev/null; then
  echo "bench-load: installing Debian's wrk package" >&2
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
fi
need wrk "apt-get install -y wrk"
need psql "apt-get install -y postgresql-client"
need pgbench "apt-get install -y postgresql-client"

scripts/pg.sh start >/dev/null
admin="$(scripts/pg.sh test-url)"
db="crossdock_bench_$$"
url="${admin%%\?*}"; url="${url%/*}/$db"
case "$admin" in *\?*) url="$url?${admin#*\?}" ;; esac

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "== kept the database: $url" >&2
  else psql -q "$admin" -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bin="${BENCH_BIN:-bin/crossdock}"
if [ -z "${BENCH_BIN:-}" ]; then go build -o bin/crossdock ./cmd/crossdock; fi
psql -q "$admin" -c "create database $db" >/dev/null
DATABASE_URL="$url" "$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
if [ -n "${BENCH_SQL:-}" ]; then psql -q -v ON_ERROR_STOP=1 "$url" -c "$BENCH_SQL" >/dev/null; fi

DATABASE_URL="$url" CROSSDOCK_ADDR="127.0.0.1:$port" CROSSDOCK_DEMO=1 CROSSDOCK_DEMO_FAIL_RATE=0 \
  CROSSDOCK_DEMO_TARGETS_ADDR="127.0.0.1:$targets_port" CROSSDOCK_DATA_DIR="$work/data" \
  CROSSDOCK_LOG_LEVEL=warn CROSSDOCK_ADMIN_PASSWORD="bench-load only, dropped after" \
  "$bin" serve ${BENCH_SERVE_ARGS:-} >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "bench-load: server did not become healthy" >&2; cat "$work/serve.err" >&2; exit 1; }

# The ordered variant: the demo flow with a sequence key, published and
# deployed to dev through the release policy as an operator would.
if [ "${BENCH_SEQUENCE:-0}" = 1 ]; then
  sed -e 's/"name": "storefront-order-to-erp"/"name": "storefront-orders"/' \
    -e 's/"correlation": "source.name"/"correlation": "source.name", "sequence": "string(int(source.id) % 10000)"/' \
    mappings/templates/storefront-order-to-erp.json >"$work/sequenced.json"
  grep -q '"sequence"' "$work/sequenced.json" || { echo "bench-load: could not add a sequence key to the demo flow" >&2; exit 1; }
  DATABASE_URL="$url" "$bin" flow import "$work/sequenced.json" --publish --note "bench-load: sequence key of 10,000 values" --deploy dev >/dev/null
  echo "== flow storefront-orders with a sequence key of 10,000 distinct values (BENCH_SEQUENCE=1)"
fi

# The demo's own key is limited to 1,000 messages/s and no key may exceed
# 100,000 a minute, so the load spreads over several keys at that rate.
keys=""
for i in 1 2 3 4 5 6; do
  k="$(DATABASE_URL="$url" "$bin" apikey create --env dev --name "bench-load-$i" --rate 100000 | sed -n 2p)"
  keys="${keys:+$keys,}$k"
done
key="${keys%%,*}"
trigger="http://127.0.0.1:$port/api/v1/envs/dev/flows/storefront-orders/messages"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$trigger" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' --data @docs/demo-order.json)"
[ "$code" = 202 ] || { echo "bench-load: a sample POST answered $code, not 202" >&2; cat "$work/serve.err" >&2; exit 1; }
if [ "${BENCH_SEQUENCE:-0}" = 1 ]; then
  for _ in $(seq 1 50); do
    [ "$(psql -tAq "$url" -c "select count(*) from messages where sequence_key is not null")" -gt 0 ] && break
    sleep 0.2
  done
  [ "$(psql -tAq "$url" -c "select count(*) from messages where sequence_key is not null")" -gt 0 ] \
    || { echo "bench-load: the sample message has no sequence key" >&2; exit 1; }
fi

count() { psql -tAq "$url" -c "select count(*) filter (where status = 'delivered'), count(*) from messages where received_at >= '${since:--infinity}'"; }

# drive RUN DURATION loads the trigger: wrk by default, loadgen at
# BENCH_RATE when set. RUN keeps the warm-up's orders apart.
loadgen=""
if [ -n "${BENCH_RATE:-}" ]; then
  loadgen="$work/loadgen"
  (cd bench && go build -o "$loadgen" ./cmd/loadgen)
fi
drive() {
  if [ -n "$loadgen" ]; then
    CROSSDOCK_BENCH_KEYS="$keys" "$loadgen" -url "$trigger" -order docs/demo-order.json -rate "$BENCH_RATE" \
      -connections "$conns" -duration "$2" -run "$1"
  else
    CROSSDOCK_BENCH_KEYS="$keys" CROSSDOCK_BENCH_RUN="$1" wrk -c "$conns" -t "$threads" -d "$2" --latency \
      -s scripts/bench-load.lua "$trigger" -- docs/demo-order.json
  fi
}

# A warm-up first, so the measured run sees a steady state (connections
# open, PostgreSQL's backends past their first touch of shared memory)
# rather than a cold start; its messages are left out of every figure.
if [ "$warmup" != 0 ]; then
  echo "== warm-up: $conns connections, $warmup (not measured)"
  drive 1 "$warmup" >"$work/warmup.txt"
  grep -E 'Requests/sec|^requests' "$work/warmup.txt" | sed 's/^/   warm-up /'
  for _ in $(seq 1 $((drain_timeout * 2))); do
    [ "${BENCH_SERVE_ARGS:-}" = --no-workers ] && break
    IFS='|' read -r delivered total <<<"$(count)"
    [ "$delivered" -ge "$total" ] && break
    sleep 0.5
  done
fi
# With CROSSDOCK_METRICS_ADDR set, the server's own answer times for the
# trigger route are read before and after the run: the difference from
# wrk's is time spent outside the handler (wrk, the kernel, scheduling).
trigger_histogram() {
  [ -n "${CROSSDOCK_METRICS_ADDR:-}" ] || return 0
  curl -fsS "http://$CROSSDOCK_METRICS_ADDR/metrics" | grep '^crossdock_http_request_duration_seconds_bucket' | grep 'messages"' | grep -v batch \
    | sed -E 's/.*le="([^"]+)".* ([0-9.e+]+)$/\1 \2/'
}
trigger_histogram >"$work/hist.before"
since="$(psql -tAq "$url" -c "select now()")"
wal_start="$(psql -tAq "$url" -c "select pg_current_wal_lsn()")"
# CPU time of the whole machine (every process: wrk, the server, PostgreSQL)
# from here until the backlog has drained, in clock ticks: busy ticks per
# message is a cost that, unlike a rate, barely moves with the machine's
# mood, so it compares builds in fewer runs.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
read -r busy_start idle_start <<<"$(cpu_ticks)"
if [ -n "${BENCH_RATE:-}" ]; then echo "== loadgen: $BENCH_RATE requests/s, at most $conns connections, $duration against $trigger"
else echo "== wrk: $conns connections, $threads threads, $duration against $trigger"; fi
drive 2 "$duration" | tee "$work/wrk.txt"
trigger_histogram >"$work/hist.after"
if [ -s "$work/hist.after" ]; then
  echo "== the server's own answer times for the trigger (share of the run's requests at or under):"
  awk 'NR == FNR { before[$1] = $2; next } { n[$1] = $2 - before[$1]; order[++k] = $1 }
       END { total = n["+Inf"]; for (i = 1; i <= k; i++) if (order[i] != "+Inf" && order[i] + 0 <= 1)
               printf "   %6.0f ms %7.3f %%\n", order[i] * 1000, 100 * n[order[i]] / total }' "$work/hist.before" "$work/hist.after"
fi
start=$(date +%s.%N)
IFS='|' read -r delivered total <<<"$(count)"
echo "== at the end of the load: $total messages recorded, $delivered delivered"
[ "${BENCH_SERVE_ARGS:-}" = --no-workers ] && drain_timeout=0
for _ in $(seq 1 $((drain_timeout * 2))); do
  IFS='|' read -r delivered total <<<"$(count)"
  [ "$delivered" -ge "$total" ] && break
  sleep 0.5
done
end=$(date +%s.%N)
read -r busy_end idle_end <<<"$(cpu_ticks)"
awk -v d="$delivered" -v t="$total" -v s="$start" -v e="$end" \
  'BEGIN { printf "== delivered %d of %d; the backlog drained %.1f s after the load stopped\n", d, t, e - s }'
grep -E 'Requests/sec|Non-2xx|Socket errors|^requests|^latency' "$work/wrk.txt" | sed 's/^/   /' || true
# Accept → delivered, from the rows themselves: when the message was
# received and when its last delivery was delivered.
psql -tAq "$url" -F ' ' -c "
  with t as (
    select extract(epoch from max(d.delivered_at) - m.received_at) * 1000 as ms
    from messages m join deliveries d on d.message_id = m.id
    where m.status = 'delivered' and m.received_at >= '$since' group by m.id, m.received_at)
  select 'accept → delivered (ms): p50', round(percentile_cont(0.5) within group (order by ms)::numeric, 1),
         'p95', round(percentile_cont(0.95) within group (order by ms)::numeric, 1),
         'p99', round(percentile_cont(0.99) within group (order by ms)::numeric, 1),
         'max', round(max(ms)::numeric, 1), 'of', count(*) from t" | sed 's/^/== /'
psql -tAq "$url" -F ' ' -c "
  select 'delivered per second while loaded: mean', round(avg(n), 1), 'min', min(n), 'max', max(n), 'over', count(*), 's'
  from (select date_trunc('second', delivered_at) s, count(*) n from deliveries where delivered_at >= '$since' group by 1 order by 1 offset 1) x
  where s < (select max(date_trunc('second', delivered_at)) from deliveries)" | sed 's/^/== /'

# Group sizes: most per-message costs are shared by a group (one process
# job, one transaction, one statement of each kind), so fewer messages per
# group cost more per message.
psql -tAq "$url" -F ' ' -c "
  select 'messages per process job: mean', round(avg(n), 1), 'p50', percentile_disc(0.5) within group (order by n), 'of', count(*), 'jobs'
  from (select jsonb_array_length(args->'message_ids') n from river_job where kind = 'process' and created_at >= '$since') j" | sed 's/^/== /'

awk -v b=$((busy_end - busy_start)) -v i=$((idle_end - idle_start)) -v n="$total" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "== CPU per message (all processes, load and drain): %.2f ms; the cores were idle %.0f %% of that time\n", 1000 * b / hz / (n > 0 ? n : 1), 100 * i / (b + i) }'

# Write volume per message does not depend on how busy the machine is, so
# it compares builds where rates on a shared machine cannot. (WAL is the
# cluster's: keep other work off it while this runs.)
psql -tAq "$url" -F ' ' -c "
  select 'WAL per message:', pg_size_pretty((pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal_start') / greatest(count(*), 1))::bigint),
         '; message updates HOT:', coalesce(round(100.0 * (select n_tup_hot_upd::numeric / nullif(n_tup_upd, 0) from pg_stat_user_tables where relname = 'messages'), 1), 0), '%'
  from messages where received_at >= '$since'" | sed 's/^/== /'

kill "$server"; wait "$server" 2>/dev/null || true; server=""
[ "${BENCH_PGBENCH:-1}" = 0 ] && exit 0
echo "== pgbench -N (the ceiling): $pgclients clients, 2 threads, 30 s, same database"
pgbench -q -i -s 10 "$url" >/dev/null 2>&1
pgbench -N -c "$pgclients" -j 2 -T 30 "$url" 2>/dev/null | grep -E 'tps|latency average|number of transactions actually'
