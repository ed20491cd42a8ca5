-- wrk script: POST /o/token/ (the city's OpenID provider).
-- wrk -s bench/token.lua URL -- <lines file> <random|once> <wrk threads>
-- Each line is "<Authorization header>\t<form body>" (bench/oidc.py writes them). "random": any line,
-- as often as it comes (client credentials); "once": each line at most once, the threads taking
-- every n-th line (an authorization code can be exchanged only once).
-- done() prints one line "BENCH_JSON {...}" for bench/oidc.py (the shape of bench/run.py's).

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lines = {}
local mode = "random"
local nthreads = 1
local next_index = 0
statuses = {}
sample = ""

function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  mode = args[2] or "random"
  nthreads = tonumber(args[3] or "1") or 1
  next_index = tid
  math.randomseed(os.time() + tid * 7919)
end

function request()
  local t
  if mode == "once" then
    -- threads interleave: thread k of n takes lines k, k + n, k + 2n …
    t = lines[((next_index - 1) % #lines) + 1]
    next_index = next_index + nthreads
  else
    t = lines[math.random(#lines)]
  end
  return wrk.format("POST", "/o/token/", {
    ["Authorization"] = t[1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, t[2])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= 200 and sample == "" then
    sample = key .. " " .. body:sub(1, 400)
  end
end

local function jstr(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ') .. '"'
end

function done(summary, latency, requests)
  local merged, samples = {}, {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for k, v in pairs(counts) do merged[k] = (merged[k] or 0) + v end
    local s = thread:get("sample")
    if s ~= "" then samples[#samples + 1] = jstr(s) end
  end
  local st = {}
  for k, v in pairs(merged) do st[#st + 1] = '"' .. k .. '":' .. v end
  local pct = {}
  for _, p in ipairs({ 50, 75, 90, 95, 99, 99.9 }) do
    pct[#pct + 1] = string.format('"%s":%.3f', tostring(p), latency:percentile(p) / 1000)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"statuses":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx_3xx":%d,' ..
    '"latency_ms":{"min":%.3f,"mean":%.3f,"max":%.3f,"stdev":%.3f,"percentiles":{%s}},"samples":[%s]}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, table.concat(st, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min / 1000, latency.mean / 1000, latency.max / 1000, latency.stdev / 1000,
    table.concat(pct, ","), table.concat(samples, ",")))
end
