#!/usr/bin/env bash
# Side-by-side comparison for docs/benchmarks.md:
#   1. `crossdock map` against `jq -c -f` on the same NDJSON file of generated
#      storefront orders (default 100,000, about 2.3 KB each, 1-8 lines);
#   2. the engine in process against Bloblang, one core each (go test -bench).
# Both mappings implement engine/testdata/flows/storefront-order-to-erp.json;
# TestMappingsAreEquivalent checks they produce the same outputs.
#
# Usage: bench/run.sh            (N=orders, RUNS=repetitions, WORK=scratch dir)
set -euo pipefail
cd "$(dirname "$0")"
N=${N:-100000}
RUNS=${RUNS:-3}
WORK=${WORK:-$(mktemp -d)}
FLOW=../engine/testdata/flows/storefront-order-to-erp.json
NOW=2026-03-14T09:30:00Z

command -v jq >/dev/null || { echo "jq is missing: apt-get install -y jq" >&2; exit 1; }

echo "== machine"
nproc
lscpu | head -n 15
go version
jq --version

echo "== data: $N orders"
go run ./cmd/genorders -n "$N" > "$WORK/orders.ndjson"
wc -c -l "$WORK/orders.ndjson"

echo "== build"
(cd .. && go build -o "$WORK/crossdock" ./cmd/crossdock)

echo "== outputs agree (engine, Bloblang and jq on 300 orders)"
go test -count=1 -run 'TestMappingsAreEquivalent|TestEngineMapsEveryGeneratedOrder' .

# elapsed, user and system seconds of one run
timed() { /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -n 1; }

echo "== crossdock map vs jq -c -f (seconds: elapsed user sys), $RUNS runs each, interleaved"
for i in $(seq "$RUNS"); do
  printf 'jq             %s\n' "$(ERP_COMPANY=1000 timed jq -c --arg now "$NOW" -f storefront.jq "$WORK/orders.ndjson")"
  printf 'crossdock map  %s\n' "$(timed "$WORK/crossdock" map --flow "$FLOW" --var ERP_COMPANY=1000 --now "$NOW" < "$WORK/orders.ndjson")"
done
# The programs are equivalent; check the full outputs agree line by line.
ERP_COMPANY=1000 jq -c --arg now "$NOW" -f storefront.jq "$WORK/orders.ndjson" | jq -cS . > "$WORK/jq.out"
"$WORK/crossdock" map --flow "$FLOW" --var ERP_COMPANY=1000 --now "$NOW" < "$WORK/orders.ndjson" | jq -cS . > "$WORK/crossdock.out"
if cmp -s "$WORK/jq.out" "$WORK/crossdock.out"; then echo "full outputs identical ($N lines)"; else echo "OUTPUTS DIFFER" >&2; exit 1; fi

echo "== in process, one core: engine vs Bloblang (go test -bench)"
go test -run '^$' -bench 'BenchmarkEngine$|BenchmarkBloblang$|BenchmarkBloblangQueryOnly$' -benchtime 3s -cpu 1 -count 6 . | tee "$WORK/inproc.txt"
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da "$WORK/inproc.txt"

echo "== engine package benchmarks"
(cd .. && go test -run '^$' -bench . -benchtime 2s -count 3 ./engine)
