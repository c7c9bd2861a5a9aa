-- One wrk script for every HTTP case, so each pays the same Lua cost, the ceiling included.
-- Configured from the environment:
--   BENCH_METHOD        GET (default) or POST
--   BENCH_PATHS         request paths, separated by newlines, taken in turn
--   BENCH_TOKENS        bearer credentials, separated by newlines, taken in turn (optional)
--   BENCH_BODY          a body (optional), of BENCH_CONTENT_TYPE (application/json)
--   BENCH_IDEMPOTENCY   "1": a fresh Idempotency-Key on every request
-- Prints, when done, one line "BENCH_JSON {...}" with requests, statuses and latency.

local function lines(text)
  local found = {}
  for line in string.gmatch(text or "", "[^\n]+") do
    found[#found + 1] = line
  end
  return found
end

local method = os.getenv("BENCH_METHOD") or "GET"
local paths = lines(os.getenv("BENCH_PATHS") or "/")
local tokens = lines(os.getenv("BENCH_TOKENS"))
local body = os.getenv("BENCH_BODY")
local content_type = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
local fresh_keys = os.getenv("BENCH_IDEMPOTENCY") == "1"

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

local counter = 0
statuses = {}

function init(args)
  math.randomseed(os.time() + (id or 0))
  prefix = string.format("bench-%d-%d-", id or 0, math.random(1, 2^30))
end

function request()
  counter = counter + 1
  local headers = {}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(counter - 1) % #tokens + 1]
  end
  if body then
    headers["Content-Type"] = content_type
  end
  if fresh_keys then
    headers["Idempotency-Key"] = prefix .. counter
  end
  return wrk.format(method, paths[(counter - 1) % #paths + 1], headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, count in pairs(seen) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, table.concat(parts, ", "),
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
