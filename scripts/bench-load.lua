-- bench-load.lua — wrk script for scripts/bench-load.sh: POSTs the demo order
-- (docs/demo-order.json) to a trigger, each request with its own order id and
-- number so every one is a new message (the demo flow derives the
-- idempotency key from the order), authorised by the API keys in
-- CROSSDOCK_BENCH_KEYS (comma-separated, used in turn: one key may carry at
-- most 100,000 messages a minute).
--
--   CROSSDOCK_BENCH_KEYS=cdk_...,cdk_... wrk -c 64 -t 2 -d 30s --latency \
--     -s scripts/bench-load.lua URL -- docs/demo-order.json

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local template
local counter = 0
local auth = {}
local run = tonumber(os.getenv("CROSSDOCK_BENCH_RUN") or "0")

function init(args)
  local f = assert(io.open(args[1] or "docs/demo-order.json", "r"))
  template = f:read("*a")
  f:close()
  for k in string.gmatch(os.getenv("CROSSDOCK_BENCH_KEYS") or "", "[^,]+") do
    table.insert(auth, "Bearer " .. k)
  end
  assert(#auth > 0, "CROSSDOCK_BENCH_KEYS is not set")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  -- CROSSDOCK_BENCH_RUN keeps a warm-up's orders apart from the measured run's.
  local n = run * 1000000000000 + tid * 1000000000 + counter
  local body = template:gsub('"id": 5012345678901', '"id": ' .. n, 1)
  body = body:gsub('"name": "#1001"', '"name": "#' .. n .. '"', 1)
  wrk.headers["Authorization"] = auth[(n % #auth) + 1]
  return wrk.format(nil, nil, nil, body)
end
