-- Bidders on one hot auction, as people bid: each request bids the minimum last heard (from the
-- last acceptance or refusal, shared by the connections of the thread), in turn as each bidder.
--   BENCH_PATH     the bids path, /v1/auctions/{id}/bids
--   BENCH_TOKENS   the bidders' access tokens, separated by newlines
--   BENCH_START    the first minimum, in yuan ("1000.00")
-- Every request carries a fresh Idempotency-Key, as a client that retries safely sends.
-- Prints, when done, one line "BENCH_JSON {...}": requests, statuses, accepted and refused by
-- code, latency.

local path = os.getenv("BENCH_PATH")
local tokens = {}
for line in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^\n]+") do
  tokens[#tokens + 1] = line
end
local minimum = tonumber(os.getenv("BENCH_START"))

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time() + (id or 0))
  prefix = string.format("bid-%d-%d-", id or 0, math.random(1, 2^30))
end

local counter = 0
statuses = {}
codes = {}

function request()
  counter = counter + 1
  local body = string.format(
    '{"amount": {"amount": "%.2f", "currency": "CNY"}}', minimum)
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. tokens[(counter - 1) % #tokens + 1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter,
  }, body)
end

local function heard(body, key)
  local amount = string.match(body, '"' .. key .. '"%s*:%s*{%s*"amount"%s*:%s*"([%d%.]+)"')
  if amount then
    minimum = math.max(minimum, tonumber(amount))
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    heard(body, "minimum_bid")
  else
    local code = string.match(body, '"code"%s*:%s*"([%w_]+)"') or "none"
    codes[code] = (codes[code] or 0) + 1
    heard(body, "minimum")
  end
end

local function merged(name)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get(name)) do
      total[key] = (total[key] or 0) + count
    end
  end
  local parts = {}
  for key, count in pairs(total) do
    parts[#parts + 1] = string.format('"%s": %d', key, count)
  end
  return table.concat(parts, ", ")
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "codes": {%s}, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, merged("statuses"), merged("codes"),
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
